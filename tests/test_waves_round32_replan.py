"""The wave planned ahead, waiting behind the open one, follows the model and the settings at once.

Wave 1 is open (the first retrain opened it, with v1) and a lead planned wave 2 ahead with v1.
* A retrain while wave 1 stays open activates v2: its last step discards wave 2 and plans wave 3
  with v2, waiting as wave 2 did, so the waves list shows the new model's plan as what comes next.
* A settings change that shapes waves (the wave size) re-plans wave 2 the same way, from a task
  enqueued when the save commits (eager Celery, as the neighbouring loop tests run it).
* A stale plan nobody re-planned (no task ran) is re-planned when the loop opens the next wave.
* A re-plan that finds nothing to plan (the budget now left) keeps the waiting plan as it was.
Wave 1's picks, leases and answers are never touched. Nothing of the planner is patched.
"""
import pytest
from django.db import transaction
from rest_framework.test import APIClient

from labeling.modeling.models import TaskRun
from labeling.modeling.versions import active_model
from labeling.projects.models import Membership, Project
from labeling.projects.services import update_settings
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer
from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401
from .test_waves_round32_completion import lease

pytestmark = pytest.mark.django_db


def picks_of(wave_number, project):
    return sorted(WaveItem.objects.filter(wave__project=project, wave__number=wave_number).values_list(
        "item_id", "batch_number", "position", "slots_taken", "slots_done"))


@pytest.fixture
def planned_ahead(project_factory, make_user, eager_celery, django_capture_on_commit_callbacks):  # noqa: F811
    """(project, lead, v1, wave 1's picks): wave 1 open with v1, two of its picks answered and one
    leased by ann; wave 2 planned ahead with v1 through the API."""
    project, _ = build_project(project_factory, slug="ahead", n_items=240, n_labeled=60, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    assert retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    v1 = active_model(project)
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    held = list(lease(project, ann, 3).values())
    for assignment in held[:2]:
        answer(project, ann, assignment, project.labels.first())
    api = APIClient()
    api.force_authenticate(lead)
    ahead = api.post("/api/projects/ahead/waves/plan/").json()
    assert (ahead["number"], ahead["state"], ahead["model_version"]) == (2, "planned", v1.number)
    return project, lead, v1, picks_of(1, project)


def waves_listed(lead) -> dict:
    api = APIClient()
    api.force_authenticate(lead)
    return {w["number"]: w for w in api.get("/api/projects/ahead/waves/").json()["results"]}


def assert_wave_1_untouched(project, picks):
    assert Wave.objects.get(project=project, number=1).state == Wave.OPEN
    assert picks_of(1, project) == picks


def test_a_new_model_replans_the_wave_waiting_behind_the_open_one(planned_ahead, django_capture_on_commit_callbacks):
    project, lead, v1, wave1_picks = planned_ahead
    run = retrain(project, django_capture_on_commit_callbacks)  # wave 1 stays open
    assert run.state == TaskRun.DONE, run.message
    v2 = active_model(project)
    assert v2.number == v1.number + 1
    assert_wave_1_untouched(project, wave1_picks)
    listed = waves_listed(lead)
    assert listed[2]["state"] == "discarded"
    assert (listed[3]["state"], listed[3]["model_version"], listed[3]["size"]) == ("planned", v2.number, 20)
    assert f"planned with model v{v1.number}; model v{v2.number} is active now" in (
        Wave.objects.get(project=project, number=2).report["discarded"]["reason"])
    assert "a wave is already open" in run.message and f"wave 3 planned in its place (20 items, model v{v2.number})" \
        in run.message
    wave3_items = set(WaveItem.objects.filter(wave__project=project, wave__number=3).values_list("item_id", flat=True))
    assert not wave3_items & {item_id for item_id, *_ in wave1_picks}


def test_a_changed_wave_size_replans_the_waiting_wave_once_the_save_commits(planned_ahead,
                                                                           django_capture_on_commit_callbacks):
    project, lead, v1, wave1_picks = planned_ahead
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            update_settings(project, {"wave_size": 12})  # requests the re-plan (labeling.projects.services)
    assert_wave_1_untouched(project, wave1_picks)
    listed = waves_listed(lead)
    assert listed[2]["state"] == "discarded"
    assert (listed[3]["state"], listed[3]["model_version"], listed[3]["size"]) == ("planned", v1.number, 12)
    stale = Wave.objects.get(project=project, number=2)
    assert stale.report["discarded"]["reason"].startswith("planned under other settings (wave_size changed since)")
    assert Wave.objects.get(project=project, number=3).report["replaces"] == [
        {"wave": 2, "model": f"model v{v1.number}", "size": 20, "settings": ["wave_size"]}]
    # a save that changes nothing a wave is planned under leaves the new plan waiting as it is
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            update_settings(project, {"guidelines": "Read the whole message first."})
    assert Wave.objects.get(project=project, number=3).state == Wave.PLANNED
    # nor does a zero share added to the mix: the planner reads no strategy of share 0
    project.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            update_settings(project, {"strategy_mix": {**project.strategy_mix, "band": 0}})
    assert Project.objects.get(pk=project.pk).strategy_mix.get("band") == 0
    assert Wave.objects.get(project=project, number=3).state == Wave.PLANNED
    assert not Wave.objects.filter(project=project, number=4).exists()


def test_a_stale_plan_nobody_replanned_is_replanned_when_the_loop_opens_the_next_wave(planned_ahead):
    project, lead, v1, _ = planned_ahead
    update_settings(project, {"wave_size": 12})  # no re-plan requested: wave 2 stays, stale
    assert Wave.objects.get(project=project, number=2).state == Wave.PLANNED
    waves.close_wave(Wave.objects.get(project=project, number=1))
    opened = waves.plan_and_open_if_idle(project)
    assert (opened.number, opened.state, opened.size, opened.model_version_id) == (3, Wave.OPEN, 12, v1.pk)
    assert Wave.objects.get(project=project, number=2).state == Wave.DISCARDED
    assert waves.opened_note(opened) == ("wave 3 opened (12 items); planned wave 2 (20 items, model "
                                         f"v{v1.number}) discarded: made under settings changed since "
                                         "(wave_size), never opened")


def test_a_replan_with_nothing_to_plan_keeps_the_waiting_wave(planned_ahead, django_capture_on_commit_callbacks):
    project, lead, v1, wave1_picks = planned_ahead
    wave2_picks = picks_of(2, project)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            update_settings(project, {"label_budget": 5})  # wave 1's unanswered picks commit more than that
    assert_wave_1_untouched(project, wave1_picks)
    kept = Wave.objects.get(project=project, number=2)
    assert kept.state == Wave.PLANNED and picks_of(2, project) == wave2_picks
    assert kept.report["replan_failed"]["error"].startswith("BudgetSpent: The label budget of 5 is spent")
    assert not Wave.objects.filter(project=project, number=3).exists()
