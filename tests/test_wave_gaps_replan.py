"""The loop's last step when planning afresh with the new model fails, on real PostgreSQL.

A lead planned wave 2 ahead with model v1 while wave 1 was open, then closed wave 1 with "then
retrain". The retrain activates v2, and its planning step discards wave 2 (made with v1) to plan the
next wave with v2. Here that plan fails for a real reason: between the retrain's scoring and its
planning task, the lead rewrites a label's description, so the planner must embed the new label
text, and the worker that plans cannot load the encoder (its model files are missing:
LONGTAIL_MODEL_PATH names an empty folder; sentence-transformers refuses it with a ValueError).
Nothing of the planner is patched.

The project must not end with a plan waiting and nothing open: the discard is undone, wave 2 opens
as it was planned, and its report and the run's message say that planning afresh with v2 failed
and why. A re-plan that finds nothing to plan (NothingToPlan: here every item is excluded) opens
nothing, as before: the waiting plan's items may not be asked either.
"""
import pytest
from celery.signals import task_prerun
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.modeling.models import TaskRun
from labeling.modeling.versions import active_model
from labeling.projects.models import Membership
from labeling.projects.services import save_label
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member
from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401

pytestmark = pytest.mark.django_db


def _planned_ahead(project_factory, capture, slug):
    """v1 active with wave 1 open (the first retrain's last step opened it) and wave 2 planned with v1."""
    project, _ = build_project(project_factory, slug=slug, n_items=240, n_labeled=60, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    assert retrain(project, capture).state == TaskRun.DONE
    v1 = active_model(project)
    ahead = waves.plan_next_wave(project)
    assert (ahead.number, ahead.state, ahead.model_version_id) == (2, Wave.PLANNED, v1.pk)
    return project, v1, ahead


@pytest.fixture
def before_planning(settings, tmp_path):
    """arm(project): between the retrain's scoring and its planning task, a lead rewrites fraud's
    description, and the worker that plans has no encoder files (the planner embeds the label texts
    it has no vector of)."""
    armed = []

    def arm(project):
        def edit(sender=None, **kwargs):
            if sender is None or not sender.name.endswith("plan_after_retrain"):
                return
            save_label(project, project.labels.get(name="fraud"),
                       description="Chargebacks, stolen cards and account takeovers")
            (tmp_path / "no-encoder").mkdir(exist_ok=True)
            settings.LONGTAIL_MODEL_PATH = str(tmp_path / "no-encoder")

        task_prerun.connect(edit, weak=False)
        armed.append(edit)

    yield arm
    for edit in armed:
        task_prerun.disconnect(edit)


def test_a_failed_replan_opens_the_waiting_plan_and_says_why(project_factory, make_user, eager_celery,  # noqa: F811
                                                             django_capture_on_commit_callbacks,
                                                             before_planning):
    project, v1, ahead = _planned_ahead(project_factory, django_capture_on_commit_callbacks, "replan-fails")
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    ahead_items = set(WaveItem.objects.filter(wave=ahead).values_list("item_id", flat=True))
    before_planning(project)
    api = APIClient()
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=True):
        closed = api.post(f"/api/projects/{project.slug}/waves/1/close/", {"retrain": True}, format="json")
    assert closed.status_code == 200, closed.json()
    run = TaskRun.objects.get(pk=closed.json()["retrain"]["id"])
    v2 = active_model(project)
    assert v2.number == v1.number + 1  # the retrain itself went through

    # The waiting plan opened as it was made, and nothing was discarded or planned instead.
    assert run.state == TaskRun.DONE, run.message
    states = dict(Wave.objects.filter(project=project).values_list("number", "state"))
    assert states == {1: Wave.CLOSED, 2: Wave.OPEN}, states
    opened = Wave.objects.get(project=project, number=2)
    assert opened.model_version_id == v1.pk and opened.size == 20
    assert set(WaveItem.objects.filter(wave=opened).values_list("item_id", flat=True)) == ahead_items
    failed = opened.report["replan_failed"]
    assert failed["model"] == f"model v{v2.number}", failed
    assert failed["error"].startswith("ValueError: Unrecognized model in ") and "no-encoder" in failed["error"]
    assert "discarded" not in opened.report and "replaces" not in opened.report
    # The lead reads it on the run.
    assert (f"wave 2 opened (20 items), as planned with model v{v1.number}: planning it afresh with "
            f"model v{v2.number} failed (ValueError: Unrecognized model in ") in run.message, run.message


def test_nothing_to_plan_after_the_discard_opens_nothing(project_factory, eager_celery,  # noqa: F811
                                                         django_capture_on_commit_callbacks):
    project, v1, ahead = _planned_ahead(project_factory, django_capture_on_commit_callbacks, "replan-empty")
    Item.objects.filter(project=project).update(excluded=True)  # a lead excludes the whole pool
    # v2, mid-wave: its re-plan of the waiting wave finds nothing either, and keeps it as it was
    assert retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    assert Wave.objects.get(pk=ahead.pk).report["replan_failed"]["error"].startswith("PoolExhausted")
    waves.close_wave(Wave.objects.get(project=project, number=1))
    with pytest.raises(waves.PoolExhausted):
        waves.plan_and_open_if_idle(project)
    # The waiting plan is left as it was (not discarded, not opened): its items may not be asked either.
    assert Wave.objects.get(pk=ahead.pk).state == Wave.PLANNED
    assert WaveItem.objects.filter(wave=ahead).count() == 20
    assert not Wave.objects.filter(project=project, state=Wave.OPEN).exists()
