"""A waiting plan records the source quotas it was drawn under by source id (pool.plan_settings):
a plain rename of a quota source changes no draw and keeps the plan; a quota change still re-plans
it. Plans stored before, with the quotas by source name, are compared by name: kept while the
quotas by name are the same, discarded (and refused by a lead's open) once they differ."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.waves import pool
from labeling.waves import services as waves
from labeling.waves.discard import stale_plans
from labeling.waves.models import Wave
from labeling.waves.selectors import wave_composition

from .test_annotation_helpers import add_member
from .test_loop_helpers import build_project, eager_celery  # noqa: F401

pytestmark = pytest.mark.django_db


def _setup(project_factory, make_user, slug):
    project, _ = build_project(project_factory, slug=slug, n_items=240, n_labeled=0, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    return project, api


def _put(api, slug, rows, capture):
    with capture(execute=True):
        answer = api.put(f"/api/projects/{slug}/sources/", rows, format="json")
    assert answer.status_code == 200, answer.content


def test_a_plain_rename_keeps_the_waiting_plan_and_a_quota_change_replans_it(
        project_factory, eager_celery, make_user, django_capture_on_commit_callbacks):  # noqa: F811
    project, api = _setup(project_factory, make_user, "rename")
    email, chat = project.sources.get(name="email"), project.sources.get(name="chat")
    _put(api, "rename", [{"id": email.pk, "name": "email", "quota": 0.8}, {"id": chat.pk, "name": "chat", "quota": 0.2}],
         django_capture_on_commit_callbacks)
    waves.open_wave(waves.plan_next_wave(project))
    planned = waves.plan_next_wave(project)

    _put(api, "rename", [{"id": email.pk, "name": "e-mail", "quota": 0.8}, {"id": chat.pk, "name": "chat", "quota": 0.2}],
         django_capture_on_commit_callbacks)
    waiting = Wave.objects.get(project=project, state=Wave.PLANNED)
    assert waiting.pk == planned.pk, (f"a rename discarded wave {planned.number}: "
                                      f"{Wave.objects.get(pk=planned.pk).report.get('discarded')}")
    assert wave_composition(waiting)["by_source"] == {"e-mail": 16, "chat": 4}

    _put(api, "rename", [{"id": email.pk, "name": "e-mail", "quota": 0.5}, {"id": chat.pk, "name": "chat", "quota": 0.5}],
         django_capture_on_commit_callbacks)
    assert Wave.objects.get(pk=planned.pk).state == Wave.DISCARDED
    replanned = Wave.objects.get(project=project, state=Wave.PLANNED)
    assert wave_composition(replanned)["by_source"] == {"e-mail": 10, "chat": 10}


def _as_stored_before(wave, quotas_by_name):
    """The wave's report as a plan made before quotas were recorded by id stored it."""
    report = dict(wave.report)
    report["planned_under"] = {**report["planned_under"], "source_quotas": quotas_by_name}
    Wave.objects.filter(pk=wave.pk).update(report=report)
    wave.refresh_from_db()


def test_a_plan_stored_with_quotas_by_name_is_kept_while_they_hold_and_refused_once_they_change(
        project_factory, make_user):
    project, _ = _setup(project_factory, make_user, "legacy")
    waves.open_wave(waves.plan_next_wave(project))
    planned = waves.plan_next_wave(project)
    assert pool.plan_settings(project)["source_quotas"] == [[s.pk, 0.5] for s in project.sources.order_by("pk")]
    _as_stored_before(planned, {"chat": 0.5, "email": 0.5})
    assert stale_plans(project, planned.model_version) == [], "an unchanged plan stored by name was thrown away"

    # the quotas by name differ now: stale, and a lead's open says why rather than handing it out
    _as_stored_before(planned, {"chat": 0.2, "email": 0.8})
    assert stale_plans(project, planned.model_version) == [planned]
    open_wave = Wave.objects.get(project=project, state=Wave.OPEN)
    waves.close_wave(open_wave)
    with pytest.raises(ValueError, match=r"source_quotas changed"):
        waves.open_wave(planned)
    assert Wave.objects.get(pk=planned.pk).state == Wave.PLANNED
