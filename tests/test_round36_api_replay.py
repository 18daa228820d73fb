"""An answer posted again under a client_id that already stored an answer: the same payload (the
page's outbox retrying a lost reply) answers 200 created: false; another choice under that id
(label, skip, none of these, another assignment or item) answers 409 on client_id with the stored
answer, and nothing changes: before, it answered 200 with the old answer and the new choice was
dropped without a word."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation

from .test_annotation_helpers import add_member, make_open_wave
from .test_history_fixes_changes import labels, lease

pytestmark = pytest.mark.django_db
SLUG = "replay36"
URL = f"/api/projects/{SLUG}/annotations/"


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory(SLUG, labels=("billing", "login"))
    _, items = make_open_wave(project, 3, batch_size=4)
    ann = APIClient()
    ann.force_authenticate(add_member(make_user, project, "ann36r"))
    held = lease(ann, SLUG)
    first, second = held[items[0].pk], held[items[1].pk]
    return ann, labels(project), first, second, items


def post(client, body):
    return client.post(URL, body, format="json")


BODIES = {
    "label": lambda lab: {"label": lab["billing"].pk},
    "skip": lambda lab: {"skipped": True, "skip_reason": "unreadable"},
    "other": lambda lab: {"none_of_these": True},
}

CHANGED = [  # (first choice, the re-sent choice, the fields named as differing)
    ("label", {"label": "login"}, "label"),
    ("label", {"skipped": True, "skip_reason": "unreadable"}, "skipped"),
    ("label", {"none_of_these": True}, "none_of_these"),
    ("skip", {"skipped": True, "skip_reason": "offensive"}, "skip_reason"),
    ("skip", {"label": "billing"}, "label"),
    ("other", {"label": "billing"}, "label"),
    ("other", {"skipped": True, "skip_reason": "unreadable"}, "skipped"),
]


def _resolved(lab, choice):
    return {k: (lab[v].pk if k == "label" else v) for k, v in choice.items()}


@pytest.mark.parametrize("first,again,field", CHANGED)
def test_a_different_choice_under_a_used_client_id_is_refused_409(setup, first, again, field):
    ann, lab, assignment, _, _ = setup
    client_id = str(uuid.uuid4())
    stored = post(ann, {"client_id": client_id, "assignment": assignment, **BODIES[first](lab)})
    assert stored.status_code == 201, stored.content
    before = list(Annotation.objects.values_list("id", "label_id", "skipped", "skip_reason"))

    response = post(ann, {"client_id": client_id, "assignment": assignment, **_resolved(lab, again)})
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["field"] == "client_id"
    assert "already stored a different answer" in body["detail"] and field in body["detail"]
    assert "change" in body["detail"] and "new client_id" in body["detail"]
    assert body["stored"]["id"] == stored.json()["annotation"]["id"]
    assert body["stored"]["label"] == stored.json()["annotation"]["label"]
    assert list(Annotation.objects.values_list("id", "label_id", "skipped", "skip_reason")) == before


def test_the_same_client_id_on_another_assignment_or_item_is_refused(setup):
    ann, lab, first, second, items = setup
    client_id = str(uuid.uuid4())
    assert post(ann, {"client_id": client_id, "assignment": first, "label": lab["billing"].pk}).status_code == 201
    moved = post(ann, {"client_id": client_id, "assignment": second, "label": lab["billing"].pk})
    assert moved.status_code == 409 and moved.json()["field"] == "client_id", moved.content
    assert "assignment" in moved.json()["detail"]
    by_item = post(ann, {"client_id": client_id, "item": items[1].pk, "label": lab["billing"].pk})
    assert by_item.status_code == 409 and by_item.json()["field"] == "client_id", by_item.content
    assert Annotation.objects.filter(client_id=client_id).count() == 1
    assert not Annotation.objects.filter(assignment_id=second).exists()


@pytest.mark.parametrize("first", ["label", "skip", "other"])
def test_the_same_payload_again_stays_200_created_false(setup, first):
    ann, lab, assignment, _, items = setup
    body = {"client_id": str(uuid.uuid4()), "assignment": assignment, **BODIES[first](lab)}
    stored = post(ann, body)
    assert stored.status_code == 201, stored.content
    again = post(ann, {**body, "labels_version": "whatever", "suggestion_shown": True})  # not part of the answer
    assert again.status_code == 200, again.content
    assert again.json()["created"] is False
    assert again.json()["annotation"]["id"] == stored.json()["annotation"]["id"]
    # Naming the item as well as its assignment, or a stray space around the reason, is the same answer.
    same = post(ann, {**body, "item": items[0].pk, **({"skip_reason": " unreadable "} if first == "skip" else {})})
    assert same.status_code == 200, same.content
