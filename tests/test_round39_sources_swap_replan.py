"""A lead who swaps two sources' names (the import mapped the channels the wrong way round) and
gives each channel its quota back leaves the quotas by name as they were, but every item now sits
under the other quota. The wave waiting behind the open one was drawn under the old assignment:
it must be re-planned, as any quota change re-plans it (replace_sources handles swaps on purpose).
Eager Celery runs the task the save's commit enqueues, as the neighbouring re-plan tests do."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.waves import services as waves
from labeling.waves.models import Wave
from labeling.waves.selectors import wave_composition

from .test_annotation_helpers import add_member
from .test_loop_helpers import build_project, eager_celery  # noqa: F401

pytestmark = pytest.mark.django_db


def _put(api, rows, capture):
    with capture(execute=True):
        answer = api.put("/api/projects/swap/sources/", rows, format="json")
    assert answer.status_code == 200, answer.content


def test_swapping_source_names_and_their_quotas_replans_the_waiting_wave(
        project_factory, eager_celery, make_user, django_capture_on_commit_callbacks):  # noqa: F811
    project, _ = build_project(project_factory, slug="swap", n_items=240, n_labeled=0, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    email, chat = project.sources.get(name="email"), project.sources.get(name="chat")
    _put(api, [{"id": email.pk, "name": "email", "quota": 0.8}, {"id": chat.pk, "name": "chat", "quota": 0.2}],
         django_capture_on_commit_callbacks)
    waves.open_wave(waves.plan_next_wave(project))
    planned = waves.plan_next_wave(project)
    assert wave_composition(planned)["by_source"] == {"email": 16, "chat": 4}

    # The channels were imported the wrong way round: swap the names, each channel keeps its quota.
    _put(api, [{"id": email.pk, "name": "chat", "quota": 0.2}, {"id": chat.pk, "name": "email", "quota": 0.8}],
         django_capture_on_commit_callbacks)
    assert dict(project.sources.values_list("name", "quota")) == {"chat": 0.2, "email": 0.8}
    waiting = Wave.objects.get(project=project, state=Wave.PLANNED)
    by_source = wave_composition(waiting)["by_source"]
    assert by_source.get("email", 0) >= by_source.get("chat", 0), (
        f"the waiting wave {waiting.number} holds {by_source} under quotas email 0.8 / chat 0.2: it was drawn "
        f"when the items now called chat had the 0.8 quota, and was not re-planned")
