"""A lead's decision in an open wave, seen from the annotator whose lease it released and from the
wave: through the API, as the annotate page, the item browser and the review page call it."""

import pytest

from labeling.annotations.models import Assignment, ReviewTask

from .team_helpers import ProjectApi, make_team
from .test_annotation_helpers import make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "dradmin-decided"


API = ProjectApi(SLUG)
post, lease, answer = API.post, API.lease, API.answer


@pytest.fixture
def team(project_factory, make_user):
    return make_team(project_factory, make_user, SLUG, annotators=("ann", "bob"))


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

