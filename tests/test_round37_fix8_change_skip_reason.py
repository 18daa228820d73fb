"""The change endpoint refuses a skip reason of invisible characters only (zero-width spaces and
the like), as the answer endpoint does, with the same message on skip_reason; nothing is changed.
Before, the change stored a skip whose reason a lead could not read."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.annotations.serializers import SKIP_REASON_INVISIBLE

from .test_annotation_helpers import add_member, make_open_wave
from .test_history_fixes_changes import labels, lease

pytestmark = pytest.mark.django_db
SLUG = "skip37"


@pytest.fixture
def answered(project_factory, make_user):
    project = project_factory(SLUG)
    make_open_wave(project, 2, batch_size=4)
    ann = APIClient()
    ann.force_authenticate(add_member(make_user, project, "ann37s"))
    held = lease(ann, SLUG)
    assignment = next(iter(held.values()))
    r = ann.post(f"/api/projects/{SLUG}/annotations/", {"client_id": str(uuid.uuid4()), "assignment": assignment,
                                                        "label": labels(project)["billing"].pk}, format="json")
    assert r.status_code == 201, r.content
    return ann, r.json()["annotation"]["id"]


@pytest.mark.parametrize("reason", ["\u200b\u200b", "\u2060 \u200d", "\ufeff"])
def test_an_invisible_skip_reason_is_refused(answered, reason):
    ann, answer = answered
    before = list(Annotation.objects.values_list("id", "skipped", "undone"))
    r = ann.post(f"/api/projects/{SLUG}/annotations/change/", {"client_id": str(uuid.uuid4()), "supersedes": answer,
                                                               "skipped": True, "skip_reason": reason}, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["skip_reason"] == [SKIP_REASON_INVISIBLE]
    assert list(Annotation.objects.values_list("id", "skipped", "undone")) == before


def test_a_visible_skip_reason_is_still_taken(answered):
    ann, answer = answered
    r = ann.post(f"/api/projects/{SLUG}/annotations/change/", {"client_id": str(uuid.uuid4()), "supersedes": answer,
                                                               "skipped": True, "skip_reason": "\u200bunclear"},
                 format="json")
    assert r.status_code == 201, r.content
