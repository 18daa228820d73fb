"""The one-by-one adjudication through the review API (``POST /api/projects/<slug>/review/``)
records how the task left the queue, as a bulk decision does: ``accepted`` when the label stored is
the one the model proposes for the task (a prediction, a label issue's suggestion), ``relabeled``
for a lead's own label (a task without a model label included). Before, the outcome stayed blank
and counts of outcomes missed these tasks."""
import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Membership

from .review_helpers import make_items
from .test_annotation_helpers import add_member, api_as

pytestmark = pytest.mark.django_db
SLUG = "oneby"


@pytest.fixture
def project(project_factory):
    return project_factory(SLUG, labels=("billing", "login", "fraud"))


@pytest.fixture
def lead(project, make_user):
    return add_member(make_user, project, "lena", role=Membership.LEAD)


def labels(project):
    return {label.name: label for label in project.labels.all()}


def low_confidence(project, item, predicted):
    return ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=1,
                                     detail={"predicted": predicted.name, "predicted_label_id": predicted.pk,
                                             "confidence": 0.41})


def resolve(lead, task, label) -> dict:
    r = api_as(lead).post(f"/api/projects/{SLUG}/review/", {"task": task.pk, "label": label.pk}, format="json")
    assert r.status_code == 200, r.content
    return r.json()


def stored(task) -> tuple:
    """(outcome, label name, resolver's username, resolved) as the database holds them."""
    task = ReviewTask.objects.select_related("resolved_label", "resolved_by").get(pk=task.pk)
    return (task.outcome, task.resolved_label.name if task.resolved_label else None,
            task.resolved_by.username if task.resolved_by else None, task.resolved_at is not None)


def test_the_models_own_label_is_recorded_as_accepted(project, lead):
    lab = labels(project)
    task = low_confidence(project, make_items(project, 1)[0], lab["billing"])
    body = resolve(lead, task, lab["billing"])
    assert stored(task) == ("accepted", "billing", "lena", True)
    assert body["outcome"] == "accepted" and body["resolved_label"] == lab["billing"].pk
    assert Annotation.objects.get(item=task.item, origin=Annotation.ADJUDICATION).label == lab["billing"]


def test_another_label_than_the_models_is_recorded_as_relabeled(project, lead):
    lab = labels(project)
    task = low_confidence(project, make_items(project, 1)[0], lab["billing"])
    body = resolve(lead, task, lab["fraud"])
    assert stored(task) == ("relabeled", "fraud", "lena", True)
    assert body["outcome"] == "relabeled"


def test_a_label_issue_resolved_with_its_suggestion_is_accepted(project, lead):
    lab = labels(project)
    task = ReviewTask.objects.create(
        project=project, item=make_items(project, 1)[0], reason=ReviewTask.LABEL_ISSUE, model_version=1,
        detail={"given_label": "login", "given_label_id": lab["login"].pk,
                "suggested_label": "fraud", "suggested_label_id": lab["fraud"].pk})
    assert resolve(lead, task, lab["fraud"])["outcome"] == "accepted"
    assert stored(task) == ("accepted", "fraud", "lena", True)


def test_each_task_of_the_item_gets_its_own_outcome_whichever_task_was_named(project, lead):
    """A lead's request has no model label, so its label is the lead's own (relabeled); the same
    label resolves the item's low-confidence task too, and there it is the model's prediction
    (accepted). Before, every task of the item took the named task's outcome, so the figures
    depended on which card the lead happened to use."""
    lab = labels(project)
    item = make_items(project, 1)[0]
    request = ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LEAD_REQUEST)
    flagged = low_confidence(project, item, lab["login"])
    assert resolve(lead, request, lab["login"])["outcome"] == "relabeled"
    assert stored(request) == ("relabeled", "login", "lena", True)
    assert stored(flagged) == ("accepted", "login", "lena", True)


def test_a_bulk_relabel_gives_each_task_of_the_item_its_own_outcome(project, lead):
    lab = labels(project)
    item = make_items(project, 1)[0]
    request = ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LEAD_REQUEST)
    flagged = low_confidence(project, item, lab["login"])
    r = api_as(lead).post(f"/api/projects/{SLUG}/review/bulk/",
                          {"action": "relabel", "tasks": [request.pk], "label": lab["login"].pk}, format="json")
    assert r.status_code == 200, r.content
    assert stored(request) == ("relabeled", "login", "lena", True)
    assert stored(flagged) == ("accepted", "login", "lena", True)
