"""A lead excludes items from the pool (junk, off-topic, a bad import) through the items API. The
next model's review routing must not ask the lead to label them: the review queue's doubtful
predictions are "scored unlabeled items" of the pool, and the overview, the planner and the
estimates all leave excluded items out of the pool. Found in a long-running project: after an
exclusion, the retrain routed two of the excluded items to the review queue as low-confidence
predictions (accepting one stores a label on an excluded item, which then trains and exports), and
the review share's cap was computed over a pool that counted the excluded items.

Scores are set by hand (tests/review_helpers.py) so that every item is doubtful: inside the band."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.modeling.review import route_review
from labeling.projects.models import Membership
from labeling.projects.selectors import item_counts

from .review_helpers import add_version, make_items


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory("excl", labels=("billing", "login", "fraud"))
    project.review_share_min, project.review_share_max = 0.05, 1.0
    project.band_low, project.band_high = 0.3, 0.7
    project.save()
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    items = make_items(project, 20)
    return project, client, items


def exclude(client, items):
    reply = client.post("/api/projects/excl/items/bulk/", {"action": "exclude", "items": [it.pk for it in items]},
                        format="json")
    assert reply.status_code == 200, reply.content


def open_items(project):
    return set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                         resolved_at__isnull=True).values_list("item_id", flat=True))


def test_excluded_items_are_not_routed_to_review(setup):
    project, client, items = setup
    exclude(client, items[:5])
    version = add_version(project, 1, {it.pk: (0, 0.5) for it in items})  # all doubtful
    result = route_review(version)
    excluded = {it.pk for it in items[:5]}
    assert not open_items(project) & excluded, "excluded items were routed to the lead's review queue"
    # The routing report's pool (the review page's "share of the pool") is the overview's pool.
    assert result.pool == item_counts(project)["pool"] == 15


def test_excluding_an_item_closes_its_open_low_confidence_task_at_the_next_routing(setup):
    project, client, items = setup
    route_review(add_version(project, 1, {it.pk: (0, 0.5) for it in items}))
    assert open_items(project) == {it.pk for it in items}
    exclude(client, items[:5])
    route_review(add_version(project, 2, {it.pk: (0, 0.5) for it in items}))
    assert open_items(project) == {it.pk for it in items[5:]}
