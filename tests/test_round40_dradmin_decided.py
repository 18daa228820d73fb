"""A lead's decision in an open wave, seen from the annotator whose lease it released and from the
wave: through the API, as the annotate page, the item browser and the review page call it."""
import uuid

import pytest

from labeling.annotations.models import Assignment, ReviewTask
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "dradmin-decided"


def post(user, path, body):
    return api_as(user).post(f"/api/projects/{SLUG}/{path}", body, format="json")


def lease(user) -> dict:
    response = post(user, "batches/", {})
    assert response.status_code == 200, response.content
    return response.json()


def answer(user, assignment: int, label_id: int):
    return post(user, "annotations/", {"client_id": str(uuid.uuid4()), "assignment": assignment, "label": label_id})


@pytest.fixture
def team(project_factory, make_user):
    project = project_factory(SLUG)
    project.batch_size = 10
    project.save()
    people = {name: add_member(make_user, project, name) for name in ("ann", "bob")}
    people["lena"] = add_member(make_user, project, "lena", role=Membership.LEAD)
    labels = {label.name: label.pk for label in project.labels.all()}
    return project, people, labels


def test_excluded_then_decided_lease_is_said_decided_not_taken(team):
    """ann holds the item (overlap 1); the lead asks for its review from the item browser, excludes it
    (ann's lease stands), then labels it in review. ann's answer is refused: the reason must be the
    lead's decision, not that "other annotators took its slot" (nobody did)."""
    project, people, labels = team
    wave, items = make_open_wave(project, 2)
    ann, lena = people["ann"], people["lena"]
    held = {row["item"]: row for row in lease(ann)["items"]}
    item = items[0]
    assert post(lena, "items/bulk/", {"action": "review", "items": [item.pk]}).status_code == 200
    assert post(lena, "items/bulk/", {"action": "exclude", "items": [item.pk]}).status_code == 200
    task = ReviewTask.objects.get(project=project, item=item, reason=ReviewTask.LEAD_REQUEST)
    assert post(lena, "review/", {"task": task.pk, "label": labels["fraud"]}).status_code == 200
    assert Assignment.objects.get(pk=held[item.pk]["assignment"]).state == Assignment.EXPIRED
    renewed = post(ann, "batches/renew/", {"assignments": [held[item.pk]["assignment"]]})
    assert renewed.status_code == 200, renewed.content
    assert [lost["reason"] for lost in renewed.json()["lost"]] == ["decided"], renewed.json()
    refused = answer(ann, held[item.pk]["assignment"], labels["billing"])
    assert refused.status_code == 409, refused.content
    assert "decided the label" in refused.json()["detail"], refused.json()

