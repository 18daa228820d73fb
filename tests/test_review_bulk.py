"""Bulk accept / relabel / dismiss on the review queue, and the queue grouped by the model's label."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.selectors import resolve_item_labels
from labeling.annotations.signals import answer_saved
from labeling.projects.models import Membership

from .review_helpers import make_items
from .test_annotation_helpers import add_member
from .test_review_stale_accept import shown_for


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory("bulk", labels=("billing", "login", "fraud"))
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    items = make_items(project, 6)
    Annotation.objects.create(project=project, item=items[3], label=project.labels.get(name="billing"),
                              origin=Annotation.IMPORT)  # the given label of the label issue below
    tasks = [
        ReviewTask.objects.create(project=project, item=items[0], reason=ReviewTask.LOW_CONFIDENCE,
                                  model_version=3, detail={"predicted": "fraud", "prob": 0.41}),
        ReviewTask.objects.create(project=project, item=items[1], reason=ReviewTask.LOW_CONFIDENCE,
                                  model_version=3, detail={"predicted": "login", "prob": 0.52}),
        ReviewTask.objects.create(project=project, item=items[2], reason=ReviewTask.DISAGREEMENT, detail={}),
        ReviewTask.objects.create(project=project, item=items[3], reason=ReviewTask.LABEL_ISSUE, model_version=3,
                                  detail={"given_label": "billing", "suggested_label": "fraud", "score": 0.04}),
        ReviewTask.objects.create(project=project, item=items[4], reason=ReviewTask.LOW_CONFIDENCE,
                                  model_version=3, detail={"predicted": "fraud", "prob": 0.6}),
    ]
    client = APIClient()
    client.force_authenticate(lead)
    return project, lead, items, tasks, client


def labels_of(project):
    names = dict(project.labels.values_list("pk", "name"))
    return {item: names[label] for item, label in resolve_item_labels(project).items()}


def test_accept_stores_the_models_label_and_skips_tasks_without_one(setup):
    project, lead, items, tasks, client = setup
    sent = []
    answer_saved.connect(lambda sender, project, item, **kw: sent.append(item.pk), weak=False, dispatch_uid="bulk")
    try:
        shown = shown_for([tasks[0], tasks[2], tasks[3]]) + [{"task": 999999, "label": None}]
        r = client.post("/api/projects/bulk/review/bulk/",
                        {"action": "accept", "tasks": [tasks[0].pk, tasks[2].pk, tasks[3].pk, 999999], "shown": shown},
                        format="json")
    finally:
        answer_saved.disconnect(dispatch_uid="bulk")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["done"] == [tasks[0].pk, tasks[3].pk]
    assert {s["task"]: (s["code"], s["reason"]) for s in body["skipped"]} == {
        tasks[2].pk: ("refused", "a disagreement task has no model label to accept"),
        999999: ("refused", "no review task 999999 in project 'bulk'")}
    # The label issue's suggestion replaces the given label: an adjudication wins.
    assert labels_of(project) == {items[0].pk: "fraud", items[3].pk: "fraud"}
    assert sorted(sent) == sorted([items[0].pk, items[3].pk])
    accepted = ReviewTask.objects.get(pk=tasks[0].pk)
    assert (accepted.outcome, accepted.resolved_by, accepted.resolved_label.name) == ("accepted", lead, "fraud")
    assert ReviewTask.objects.get(pk=tasks[2].pk).resolved_at is None


def test_relabel_and_dismiss(setup):
    project, lead, items, tasks, client = setup
    login = project.labels.get(name="login")
    r = client.post("/api/projects/bulk/review/bulk/", {"action": "relabel", "tasks": [tasks[0].pk, tasks[2].pk],
                                                         "label": login.pk}, format="json")
    assert r.status_code == 200 and r.json()["done"] == [tasks[0].pk, tasks[2].pk]
    assert labels_of(project) == {items[0].pk: "login", items[2].pk: "login", items[3].pk: "billing"}
    assert set(ReviewTask.objects.filter(outcome="relabeled").values_list("pk", flat=True)) == {tasks[0].pk, tasks[2].pk}
    r = client.post("/api/projects/bulk/review/bulk/", {"action": "dismiss", "tasks": [tasks[1].pk, tasks[0].pk],
                                                         "shown": shown_for([tasks[1], tasks[0]])}, format="json")
    assert r.json()["done"] == [tasks[1].pk]
    assert r.json()["skipped"] == [{"task": tasks[0].pk, "code": "closed_meanwhile",
                                    "reason": 'closed meanwhile: relabeled as "login" by lea'}]
    dismissed = ReviewTask.objects.get(pk=tasks[1].pk)
    assert dismissed.outcome == "dismissed" and dismissed.resolved_label is None and dismissed.resolved_at
    assert items[1].pk not in labels_of(project)  # nothing stored


def test_bad_requests_name_the_field(setup, project_factory):
    project, lead, items, tasks, client = setup
    other = project_factory("other", labels=("x",))
    cases = [
        ({"action": "burn", "tasks": [tasks[0].pk]}, "action"),
        ({"action": "accept", "tasks": []}, "tasks"),
        ({"action": "relabel", "tasks": [tasks[0].pk]}, "label"),
        ({"action": "relabel", "tasks": [tasks[0].pk], "label": other.labels.get().pk}, "label"),
        ({"action": "dismiss", "tasks": [tasks[0].pk], "label": project.labels.first().pk}, "label"),
        ({"action": "accept", "tasks": [tasks[0].pk]}, "shown"),
        ({"action": "dismiss", "tasks": [tasks[0].pk], "shown": [{"task": tasks[1].pk, "label": "login"}]}, "shown"),
    ]
    for body, field in cases:
        r = client.post("/api/projects/bulk/review/bulk/", body, format="json")
        assert r.status_code == 400, (body, r.content)
        assert field in r.json() or r.json().get("field") == field, (body, r.json())
    assert not ReviewTask.objects.filter(resolved_at__isnull=False).exists()
    annotator = add_member(lambda name: type(lead).objects.create_user(name), project, "ann")
    client.force_authenticate(annotator)
    assert client.post("/api/projects/bulk/review/bulk/", {"action": "dismiss", "tasks": [tasks[0].pk]},
                       format="json").status_code in (403, 404)


def test_groups_follow_the_models_label(setup):
    project, lead, items, tasks, client = setup
    r = client.get("/api/projects/bulk/review/groups/")
    assert r.status_code == 200
    groups = {g["label"]: [t["id"] for t in g["tasks"]] for g in r.json()["groups"]}
    assert groups == {"fraud": [tasks[0].pk, tasks[3].pk, tasks[4].pk], "login": [tasks[1].pk],
                      "(no model label)": [tasks[2].pk]}
    assert list(groups)[-1] == "(no model label)"
    r = client.get("/api/projects/bulk/review/groups/?reason=label_issue")
    assert [g["label"] for g in r.json()["groups"]] == ["fraud"] and r.json()["open"] == 1
    assert client.get("/api/projects/bulk/review/groups/?reason=nope").status_code == 400


def test_bulk_endpoints_are_in_the_schema(setup):
    project, lead, items, tasks, client = setup
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    assert schema.status_code == 200
    assert "/api/projects/{slug}/review/bulk/" in text and "/api/projects/{slug}/review/groups/" in text
