"""A quota change saved on the Django admin's project page re-plans the wave waiting to be opened,
as the same change on the sources page or through the API does (docs/loop.md: a waiting plan made
under settings that changed since is replaced as soon as they change; the admin's save_model says
a change that shapes waves re-plans the waiting wave). Eager Celery runs the task the save's commit
enqueues, as the neighbouring replan tests do; nothing of the planner is patched."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.waves import services as waves
from labeling.waves.models import Wave
from labeling.waves.selectors import wave_composition

from .test_admin_label_rows import _change_form
from .test_annotation_helpers import add_member
from .test_loop_helpers import build_project, eager_celery  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(project_factory, eager_celery):  # noqa: F811
    """Wave 1 open, wave 2 planned behind it under quotas email 0.5 / chat 0.5."""
    project, _ = build_project(project_factory, slug="quotas", n_items=240, n_labeled=0, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    waves.open_wave(waves.plan_next_wave(project))
    planned = waves.plan_next_wave(project)
    assert planned.state == Wave.PLANNED and planned.number == 2
    assert wave_composition(planned)["by_source"] == {"email": 10, "chat": 10}
    return project


def _waiting_wave(project):
    return Wave.objects.get(project=project, state=Wave.PLANNED)


def test_control_the_api_quota_change_replans_the_waiting_wave(waiting, make_user,
                                                               django_capture_on_commit_callbacks):
    project = waiting
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    rows = [{"id": s.pk, "name": s.name, "quota": 1.0 if s.name == "email" else 0.0} for s in project.sources.all()]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.put("/api/projects/quotas/sources/", rows, format="json").status_code == 200
    wave = _waiting_wave(project)
    assert wave.number == 3 and wave_composition(wave)["by_source"] == {"email": 20}


def test_the_admin_quota_change_replans_the_waiting_wave(waiting, admin_client, django_capture_on_commit_callbacks):
    project = waiting
    data = _change_form(admin_client, project)
    for key, value in list(data.items()):
        if key.startswith("sources-") and key.endswith("-id") and value:
            name = project.sources.get(pk=int(value)).name
            data[key[: -len("-id")] + "-quota"] = "1.0" if name == "email" else "0.0"
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    assert dict(project.sources.values_list("name", "quota")) == {"email": 1.0, "chat": 0.0}
    wave = _waiting_wave(project)
    assert wave.number == 3, (
        f"the waiting wave {wave.number} was kept after the admin saved quotas email 1.0 / chat 0.0: it still "
        f"holds {wave_composition(wave)['by_source']} and was planned under {wave.report['planned_under']['source_quotas']}")
    assert wave_composition(wave)["by_source"] == {"email": 20}


def test_after_the_admin_quota_change_the_wave_a_lead_opens_keeps_the_new_quotas(
        waiting, admin_client, make_user, django_capture_on_commit_callbacks):
    """What annotators get: the lead closes wave 1 and opens the waiting wave from the API. chat's
    quota is 0 beside email's 1.0 now, so the wave handed out holds no chat item."""
    project = waiting
    data = _change_form(admin_client, project)
    for key, value in list(data.items()):
        if key.startswith("sources-") and key.endswith("-id") and value:
            name = project.sources.get(pk=int(value)).name
            data[key[: -len("-id")] + "-quota"] = "1.0" if name == "email" else "0.0"
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"/admin/projects/project/{project.pk}/change/", data).status_code == 302
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    assert api.post("/api/projects/quotas/waves/1/close/", {}, format="json").status_code == 200
    waiting_number = _waiting_wave(project).number
    with django_capture_on_commit_callbacks(execute=True):
        opened = api.post(f"/api/projects/quotas/waves/{waiting_number}/open/")
    assert opened.status_code == 200, opened.content
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    assert wave_composition(wave)["by_source"].get("chat", 0) == 0, (
        f"wave {wave.number} opened for annotators with {wave_composition(wave)['by_source']} though chat's quota "
        "is 0 and email's 1.0 since the admin save")
