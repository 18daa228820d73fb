"""A change posted again under a client_id that already stored a change: the same payload (the
page's outbox retrying a lost reply) answers 200 created: false; another choice under that id (a
label, a skip, none of these, a clear, another answer named) answers 409 on client_id with the
stored change, and nothing changes: before, it answered 200 with the old change and the new
choice was dropped without a word (answers were made to refuse it in round 36). The two "named two
different targets" refusals (an answer's assignment and item, a change's supersedes and
supersedes_client_id) share one helper and keep their messages."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation

from .test_annotation_helpers import add_member, make_open_wave
from .test_history_fixes_changes import labels, lease

pytestmark = pytest.mark.django_db
SLUG = "change37"
ANSWER_URL = f"/api/projects/{SLUG}/annotations/"
CHANGE_URL = f"/api/projects/{SLUG}/annotations/change/"


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory(SLUG, labels=("billing", "login", "fraud"))
    _, items = make_open_wave(project, 3, batch_size=4)
    ann = APIClient()
    ann.force_authenticate(add_member(make_user, project, "ann37c"))
    held = lease(ann, SLUG)
    lab = labels(project)
    answers = []
    for item in items[:2]:
        r = ann.post(ANSWER_URL, {"client_id": str(uuid.uuid4()), "assignment": held[item.pk],
                                  "label": lab["billing"].pk}, format="json")
        assert r.status_code == 201, r.content
        answers.append(Annotation.objects.get(pk=r.json()["annotation"]["id"]))
    return ann, lab, answers, held, items


def rows():
    return list(Annotation.objects.order_by("pk").values_list("id", "label_id", "skipped", "skip_reason", "undone"))


CHANGED = [  # (the stored change, the re-sent choice, the field named as differing)
    ({"label": "login"}, {"label": "fraud"}, "label"),
    ({"label": "login"}, {"skipped": True, "skip_reason": "unreadable"}, "skipped"),
    ({"label": "login"}, {"none_of_these": True}, "none_of_these"),
    ({"label": "login"}, {"clear": True}, "clear"),
    ({"skipped": True, "skip_reason": "unreadable"}, {"skipped": True, "skip_reason": "offensive"}, "skip_reason"),
    ({"skipped": True, "skip_reason": "unreadable"}, {"label": "login"}, "label"),
    ({"none_of_these": True}, {"label": "login"}, "label"),
    ({"none_of_these": True}, {"clear": True}, "clear"),
]


def _resolved(lab, choice):
    return {k: (lab[v].pk if k == "label" else v) for k, v in choice.items()}


@pytest.mark.parametrize("first,again,field", CHANGED)
def test_a_different_change_under_a_used_client_id_is_refused_409(setup, first, again, field):
    ann, lab, answers, _, _ = setup
    client_id = str(uuid.uuid4())
    stored = ann.post(CHANGE_URL, {"client_id": client_id, "supersedes": answers[0].pk, **_resolved(lab, first)},
                      format="json")
    assert stored.status_code == 201, stored.content
    before = rows()

    response = ann.post(CHANGE_URL, {"client_id": client_id, "supersedes": answers[0].pk, **_resolved(lab, again)},
                        format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["field"] == "client_id"
    assert "already stored a different change" in body["detail"] and field in body["detail"]
    assert "new client_id" in body["detail"]
    assert body["stored"]["id"] == stored.json()["annotation"]["id"]
    assert body["stored"]["label"] == stored.json()["annotation"]["label"]
    assert rows() == before


def test_the_same_client_id_naming_another_answer_is_refused(setup):
    ann, lab, answers, _, _ = setup
    client_id = str(uuid.uuid4())
    change = {"client_id": client_id, "label": lab["login"].pk}
    assert ann.post(CHANGE_URL, {**change, "supersedes": answers[0].pk}, format="json").status_code == 201
    before = rows()
    by_id = ann.post(CHANGE_URL, {**change, "supersedes": answers[1].pk}, format="json")
    assert by_id.status_code == 409 and by_id.json()["field"] == "client_id", by_id.content
    assert "supersedes" in by_id.json()["detail"]
    by_client_id = ann.post(CHANGE_URL, {**change, "supersedes_client_id": str(answers[1].client_id)}, format="json")
    assert by_client_id.status_code == 409 and by_client_id.json()["field"] == "client_id", by_client_id.content
    assert "supersedes_client_id" in by_client_id.json()["detail"]
    assert rows() == before
    assert not Annotation.objects.get(pk=answers[1].pk).undone  # the second answer was never changed


@pytest.mark.parametrize("first", [{"label": "login"}, {"skipped": True, "skip_reason": "unreadable"},
                                   {"none_of_these": True}])
def test_the_same_change_again_stays_200_created_false(setup, first):
    ann, lab, answers, _, _ = setup
    body = {"client_id": str(uuid.uuid4()), "supersedes": answers[0].pk, **_resolved(lab, first)}
    stored = ann.post(CHANGE_URL, body, format="json")
    assert stored.status_code == 201, stored.content
    again = ann.post(CHANGE_URL, {**body, "labels_version": "whatever", "suggestion_shown": True}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["created"] is False
    assert again.json()["annotation"]["id"] == stored.json()["annotation"]["id"]
    # Naming the changed answer by its client_id as well, or a stray space around the reason, is the same change.
    same = ann.post(CHANGE_URL, {**body, "supersedes_client_id": str(answers[0].client_id),
                                 **({"skip_reason": " unreadable "} if "skipped" in first else {})}, format="json")
    assert same.status_code == 200 and same.json()["created"] is False, same.content


def test_a_retried_clear_stays_200(setup):
    ann, _, answers, _, _ = setup
    body = {"client_id": str(uuid.uuid4()), "supersedes": answers[0].pk, "clear": True}
    first = ann.post(CHANGE_URL, body, format="json")
    assert first.status_code == 201, first.content
    again = ann.post(CHANGE_URL, body, format="json")
    assert again.status_code == 200 and again.json()["created"] is False, again.content


def test_both_two_names_refusals_keep_their_messages(setup):
    ann, lab, answers, held, items = setup
    wrong_item = ann.post(ANSWER_URL, {"client_id": str(uuid.uuid4()), "assignment": held[items[2].pk],
                                       "item": items[0].pk, "label": lab["billing"].pk}, format="json")
    assert wrong_item.status_code == 400, wrong_item.content
    assert wrong_item.json() == {
        "detail": f"Assignment {held[items[2].pk]} is for item {items[2].pk}, not item {items[0].pk}: give one of "
                  "'assignment' and 'item', or both naming the same item. Nothing was stored.", "field": "item"}
    two_answers = ann.post(CHANGE_URL, {"client_id": str(uuid.uuid4()), "supersedes": answers[0].pk,
                                        "supersedes_client_id": str(answers[1].client_id), "label": lab["login"].pk},
                           format="json")
    assert two_answers.status_code == 400, two_answers.content
    assert two_answers.json() == {
        "detail": f"supersedes ({answers[0].pk}) and supersedes_client_id ({answers[1].client_id}) name different "
                  "answers: give one of them, or both naming the same answer. Nothing was changed.",
        "field": "supersedes_client_id"}
    assert Annotation.objects.count() == 2 and not Annotation.objects.filter(undone=True).exists()
