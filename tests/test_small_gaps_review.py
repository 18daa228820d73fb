"""Bulk review of two open tasks of one item: the label stored for the first task's item resolves
the second too, so the second is never reported as left open (code ``closed_meanwhile``, the
reason saying that this request's label closed it), whichever of the two comes first."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Membership

from .review_helpers import make_items
from .test_annotation_helpers import add_member
from .test_review_stale_accept import shown_for


@pytest.fixture
def queue(project_factory, make_user):
    project = project_factory("twice", labels=("billing", "login", "fraud"))
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    one, two = make_items(project, 2)
    Annotation.objects.create(project=project, item=one, label=project.labels.get(name="billing"),
                              origin=Annotation.IMPORT)  # the given label of the label issue below
    tasks = {
        "low": ReviewTask.objects.create(project=project, item=one, reason=ReviewTask.LOW_CONFIDENCE, model_version=3,
                                         detail={"predicted": "fraud", "prob": 0.41}),
        "issue": ReviewTask.objects.create(project=project, item=one, reason=ReviewTask.LABEL_ISSUE, model_version=3,
                                           detail={"given_label": "billing", "suggested_label": "login"}),
        "dispute": ReviewTask.objects.create(project=project, item=two, reason=ReviewTask.DISAGREEMENT, detail={}),
        "low2": ReviewTask.objects.create(project=project, item=two, reason=ReviewTask.LOW_CONFIDENCE, model_version=3,
                                          detail={"predicted": "login", "prob": 0.52}),
    }
    client = APIClient()
    client.force_authenticate(lead)
    return project, lead, tasks, client


def bulk(client, action, tasks, **extra):
    body = {"action": action, "tasks": [t.pk for t in tasks], **extra}
    if action != "relabel":
        body["shown"] = shown_for(tasks)
    response = client.post("/api/projects/twice/review/bulk/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def state(task):
    task.refresh_from_db()
    return task.outcome, task.resolved_label.name if task.resolved_label else None


@pytest.mark.django_db
def test_accepting_two_tasks_of_one_item_reports_the_second_as_closed_by_the_first(queue):
    project, lead, tasks, client = queue
    low, issue = tasks["low"], tasks["issue"]
    body = bulk(client, "accept", [low, issue])
    assert body["done"] == [low.pk] and body["labeled_items"] == [low.item_id]
    # before: {"code": "refused", "reason": "its item was given another label in this request"}, i.e. left open
    assert body["skipped"] == [{"task": issue.pk, "code": "closed_meanwhile", "reason":
                                f'closed by this request: its item was labeled "fraud" for task {low.pk} '
                                '("login" was not stored)'}]
    # each task its own outcome: "fraud" is the low-confidence task's prediction, not the issue's suggestion
    assert state(low) == (ReviewTask.ACCEPTED, "fraud") and state(issue) == (ReviewTask.RELABELED, "fraud")
    assert list(Annotation.objects.filter(origin=Annotation.ADJUDICATION).values_list("label__name", flat=True)) == [
        "fraud"]


@pytest.mark.django_db
def test_a_task_skipped_before_its_item_is_labeled_by_a_later_task_is_reported_closed(queue):
    project, lead, tasks, client = queue
    dispute, low2 = tasks["dispute"], tasks["low2"]
    body = bulk(client, "accept", [dispute, low2])
    assert body["done"] == [low2.pk]
    # before: {"code": "refused", "reason": "a disagreement task has no model label to accept"}, although
    # the label accepted for the next task closed it
    assert body["skipped"] == [{"task": dispute.pk, "code": "closed_meanwhile", "reason":
                                f'closed by this request: its item was labeled "login" for task {low2.pk} '
                                "(a disagreement task has no model label to accept)"}]
    # each task its own outcome: the disagreement had no model label, so its label is the lead's own
    assert state(low2) == (ReviewTask.ACCEPTED, "login") and state(dispute) == (ReviewTask.RELABELED, "login")


@pytest.mark.django_db
def test_the_same_label_for_both_tasks_of_an_item_is_done_for_both_and_open_tasks_stay_open(queue):
    project, lead, tasks, client = queue
    login = project.labels.get(name="login")
    body = bulk(client, "relabel", [tasks["low"], tasks["issue"]], label=login.pk)
    assert body["done"] == [tasks["low"].pk, tasks["issue"].pk] and body["skipped"] == []
    # "login" is the issue's suggestion: accepted, as every path records the model's own label
    assert state(tasks["issue"]) == (ReviewTask.ACCEPTED, "login")
    # a skip whose item nothing in the request labeled stays a skip: the task is left open
    body = bulk(client, "accept", [tasks["dispute"]])
    assert body["skipped"] == [{"task": tasks["dispute"].pk, "code": "refused",
                                "reason": "a disagreement task has no model label to accept"}]
    assert state(tasks["dispute"]) == ("", None) and tasks["dispute"].resolved_at is None
