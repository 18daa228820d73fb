"""Review routing of doubtful predictions: the project's band and the per-label thresholds decide
what is routed, the review share caps the queue, and a new model re-scores or closes the open
tasks of older ones. Scores are set by hand (tests/review_helpers.py)."""
import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.review import route_review
from labeling.projects.models import Membership
from labeling.waves.pool import planner_config

from .review_helpers import add_version, make_items


@pytest.fixture
def project(project_factory):
    project = project_factory("route", labels=("billing", "login", "fraud"))
    project.review_share_min, project.review_share_max = 0.05, 0.5
    project.band_low, project.band_high = 0.3, 0.7
    project.save()
    return project


def open_items(project, reason=ReviewTask.LOW_CONFIDENCE):
    return set(ReviewTask.objects.filter(project=project, reason=reason, resolved_at__isnull=True)
               .values_list("item_id", flat=True))


def test_nothing_doubtful_routes_nothing(project):
    # No thresholds, every prediction confident: no filling up to review_share_min.
    items = make_items(project, 40)
    version = add_version(project, 1, {it.pk: (0, 0.95) for it in items})
    assert route_review(version).created == 0
    assert not ReviewTask.objects.exists()


def test_the_band_decides_what_is_routed(project):
    items = make_items(project, 40)
    probs = [0.2, 0.35, 0.5, 0.65, 0.75, 0.9] * 6 + [0.99] * 4
    scores = {it.pk: (i % 3, p) for i, (it, p) in enumerate(zip(items, probs, strict=True))}
    version = add_version(project, 1, scores)
    route_review(version)
    in_band = {pk for pk, (_, p) in scores.items() if 0.3 <= p <= 0.7}
    assert open_items(project) == in_band  # 18 of 40, under the cap of 20
    task = ReviewTask.objects.filter(item_id__in=in_band).first()
    assert task.model_version == 1 and "inside the band 0.30–0.70" in task.detail["why"]
    # A narrower band, a new model with the same scores: the tasks outside the band close.
    project.band_low, project.band_high = 0.6, 0.8
    project.save()
    version2 = add_version(project, 2, scores)
    result = route_review(version2)
    narrow = {pk for pk, (_, p) in scores.items() if 0.6 <= p <= 0.8}
    assert open_items(project) == narrow
    assert result.expired == len(in_band - narrow) and result.rescored == len(in_band & narrow)
    assert result.created == len(narrow - in_band)
    closed = ReviewTask.objects.filter(outcome=ReviewTask.EXPIRED)
    assert set(closed.values_list("item_id", flat=True)) == in_band - narrow
    assert all(t.resolved_at and "does not find the prediction doubtful" in t.detail["closed"] for t in closed)
    assert set(ReviewTask.objects.filter(resolved_at__isnull=True).values_list("model_version", flat=True)) == {2}


def test_thresholds_route_below_threshold_predictions_outside_the_band(project):
    items = make_items(project, 30)
    scores = {it.pk: (i % 3, 0.85) for i, it in enumerate(items)}
    version = add_version(project, 1, scores, thresholds={"fraud": 0.9, "billing": 0.5})
    route_review(version)
    fraud = {pk for pk, (top, _) in scores.items() if version.label_map[top] == "fraud"}
    assert open_items(project) == fraud
    task = ReviewTask.objects.get(item_id=min(fraud))
    assert task.detail["predicted"] == "fraud" and "below the threshold 0.90 of 'fraud'" in task.detail["why"]


def test_the_review_share_caps_the_queue_least_confident_first(project):
    project.review_share_max = 0.1
    project.save()
    items = make_items(project, 50)
    scores = {it.pk: (0, 0.31 + 0.008 * i) for i, it in enumerate(items)}  # all in the band
    version = add_version(project, 1, scores)
    assert route_review(version).created == 5
    assert open_items(project) == {it.pk for it in items[:5]}
    assert route_review(version).created == 0  # the same model again: the queue is full
    # A new model: the pool shrank (40 labeled), so the cap is 1 and the most confident tasks close.
    for it in items[10:50]:
        Annotation.objects.create(project=project, item=it, label=project.labels.get(name="billing"),
                                  origin=Annotation.IMPORT)
    version2 = add_version(project, 2, scores)
    result = route_review(version2)
    assert (result.cap, result.rescored, result.over_cap, result.created) == (1, 5, 4, 0)
    assert open_items(project) == {items[0].pk}


def test_labeled_items_are_never_routed_and_their_open_tasks_close(project):
    items = make_items(project, 20)
    scores = {it.pk: (1, 0.5) for it in items}
    route_review(add_version(project, 1, scores))
    assert open_items(project) == {it.pk for it in items[:10]}
    Annotation.objects.create(project=project, item=items[0], label=project.labels.get(name="login"),
                              origin=Annotation.IMPORT)
    route_review(add_version(project, 2, scores))
    assert items[0].pk not in open_items(project)
    assert ReviewTask.objects.get(item=items[0]).outcome == ReviewTask.EXPIRED


def test_other_reasons_are_left_alone(project):
    items = make_items(project, 10)
    ReviewTask.objects.create(project=project, item=items[0], reason=ReviewTask.DISAGREEMENT)
    route_review(add_version(project, 1, {it.pk: (0, 0.99) for it in items}))
    assert open_items(project, ReviewTask.DISAGREEMENT) == {items[0].pk}


def test_the_planner_gets_the_project_band(project):
    project.band_low, project.band_high = 0.45, 0.55
    project.strategy_mix = {"band": 0.5, "uncertainty": 0.5}
    project.save()
    config = planner_config(project, 100)
    assert config.band == (0.45, 0.55) and config.strategy_mix["band"] == 0.5


def test_routing_below_the_minimum_share_is_reported_not_filled(project, make_user, client):
    # 40 items, 2 inside the band: routing opens 2 tasks (5 % of the pool) and fills nothing up.
    project.review_share_min = 0.10
    project.save()
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    items = make_items(project, 40)
    scores = {it.pk: (0, 0.5 if i < 2 else 0.95) for i, it in enumerate(items)}
    version = add_version(project, 1, scores)
    assert route_review(version).created == 2
    version.refresh_from_db()
    report = version.metrics["review_routing"]
    assert (report["open"], report["pool"], report["below_minimum"]) == (2, 40, True)
    client.force_login(lead)
    page = client.get(f"/p/{project.slug}/review/").content.decode()
    assert 'id="routing-below-minimum"' in page and "below the project's minimum" in page
    # The same pool with a quarter inside the band meets the minimum: no notice.
    wide = {it.pk: (0, 0.5 if i < 10 else 0.95) for i, it in enumerate(items)}
    route_review(add_version(project, 2, wide))
    assert 'id="routing-below-minimum"' not in client.get(f"/p/{project.slug}/review/").content.decode()
