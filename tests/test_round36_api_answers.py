"""Answers that name their target twice must name it once: an answer with an assignment and another
item, or a change with supersedes and another answer's supersedes_client_id, answers 400 and stores
nothing (the first name won, the second was ignored). A change's reply reads the replaced answer
as the answers list does: changed is superseded, not undone."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory("api")
    project.batch_size = 3
    project.save()
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    make_open_wave(project, 3)
    client = APIClient()
    client.force_authenticate(ann)
    items = client.post("/api/projects/api/batches/", {}, format="json").json()["items"]
    lead_client = APIClient()
    lead_client.force_authenticate(lead)
    return project, client, items, lead_client


def answer(client, assignment, label, **extra):
    body = {"client_id": str(uuid.uuid4()), "assignment": assignment, "label": label, **extra}
    return client.post("/api/projects/api/annotations/", body, format="json")


def test_assignment_and_another_item_is_refused(setup):
    project, client, items, _ = setup
    label = project.labels.get(name="login").pk
    reply = answer(client, items[0]["assignment"], label, item=items[1]["item"])
    assert reply.status_code == 400
    body = reply.json()
    assert body["field"] == "item" and str(items[0]["item"]) in body["detail"] and str(items[1]["item"]) in body["detail"]
    assert not Annotation.objects.exists()


def test_assignment_and_its_own_item_is_stored(setup):
    project, client, items, _ = setup
    reply = answer(client, items[0]["assignment"], project.labels.get(name="login").pk, item=items[0]["item"])
    assert reply.status_code == 201 and reply.json()["annotation"]["item"] == items[0]["item"]


def test_answer_with_unknown_field_is_refused(setup):
    project, client, items, _ = setup
    reply = answer(client, items[0]["assignment"], project.labels.get(name="login").pk, lable=3)
    assert reply.status_code == 400 and "lable" in reply.json()
    assert not Annotation.objects.exists()


def change(client, **body):
    return client.post("/api/projects/api/annotations/change/", {"client_id": str(uuid.uuid4()), **body},
                       format="json")


def test_change_naming_two_answers_is_refused(setup):
    project, client, items, _ = setup
    login, fraud = project.labels.get(name="login").pk, project.labels.get(name="fraud").pk
    first = answer(client, items[0]["assignment"], login).json()["annotation"]
    second = answer(client, items[1]["assignment"], login).json()["annotation"]
    reply = change(client, supersedes=first["id"], supersedes_client_id=second["client_id"], label=fraud)
    assert reply.status_code == 400 and reply.json()["field"] == "supersedes_client_id"
    assert Annotation.objects.filter(undone=True).count() == 0 and Annotation.objects.count() == 2
    agreeing = change(client, supersedes=first["id"], supersedes_client_id=first["client_id"], label=fraud)
    assert agreeing.status_code == 201 and agreeing.json()["replaced"]["id"] == first["id"]


def test_change_reply_reads_replaced_answer_as_the_answers_list(setup):
    project, client, items, lead_client = setup
    login, fraud = project.labels.get(name="login").pk, project.labels.get(name="fraud").pk
    first = answer(client, items[0]["assignment"], login).json()["annotation"]
    reply = change(client, supersedes_client_id=first["client_id"], label=fraud)
    assert reply.status_code == 201
    replaced, new = reply.json()["replaced"], reply.json()["annotation"]
    assert replaced["undone"] is False  # the answers list says so (it was changed, not taken back)
    assert replaced["superseded"] is True
    assert (first["undone"], first["superseded"]) == (False, False)
    assert (new["undone"], new["superseded"]) == (False, False)
    # The page sends its labels_version with a change, as with an answer: taken, not refused, and
    # a stale one gets the labels as they are now.
    again = change(client, supersedes=new["id"], label=login, labels_version="stale")
    assert again.status_code == 201 and again.json()["labels_version"] and again.json()["labels"]
    rows = {row["id"]: row for row in lead_client.get(f"/api/projects/api/answers/?item={first['item']}").json()["results"]}
    assert (rows[first["id"]]["undone"], rows[first["id"]]["superseded"]) == (False, True)
    assert (rows[new["id"]]["undone"], rows[new["id"]]["superseded"]) == (False, True)  # changed again
    newest = again.json()["annotation"]
    assert (rows[newest["id"]]["undone"], rows[newest["id"]]["superseded"]) == (False, False)
    assert (newest["undone"], newest["superseded"]) == (False, False)


def test_cleared_answer_reads_undone_not_superseded(setup):
    project, client, items, lead_client = setup
    first = answer(client, items[0]["assignment"], project.labels.get(name="login").pk).json()["annotation"]
    reply = change(client, supersedes=first["id"], clear=True)
    assert reply.status_code == 201
    assert reply.json()["replaced"]["undone"] is True
    assert reply.json()["replaced"]["superseded"] is False
    row = lead_client.get(f"/api/projects/api/answers/?item={first['item']}").json()["results"][0]
    assert (row["undone"], row["superseded"]) == (True, False)
    undo_answer = answer(client, items[1]["assignment"], project.labels.get(name="login").pk).json()["annotation"]
    undone = client.post("/api/projects/api/annotations/undo/", {"client_id": undo_answer["client_id"]}, format="json")
    assert undone.status_code == 200 and (undone.json()["undone"], undone.json()["superseded"]) == (True, False)
