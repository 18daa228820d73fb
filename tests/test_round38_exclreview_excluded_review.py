"""Items a lead excluded from the pool are out of the review queue's low-confidence routing, as they
are out of the overview's pool, the planner and the estimates (docs/loop.md, "Left out of
low-confidence routing"):

- excluding an item closes its open low-confidence task at once ("excluded by a lead"), and a
  routing pass closes one left open (an item excluded before the exclusion closed tasks);
- the predict API's queue answers that the text is an item a lead excluded (not "the review queue
  is full", not "already in the review queue"), and its review-share cap leaves excluded items out
  of the pool it is a share of;
- the retrain's unlabeled sample (self-training, the pool's class mix, the final model's
  distillation) never draws an excluded item.

The predict tests use a real trained head (tests/test_predict.py) whose thresholds are raised above
1, so that every prediction is doubtful."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.items.models import Item
from labeling.modeling.embedding import embed_project
from labeling.modeling.review import route_review
from labeling.modeling.scores import score_version
from labeling.projects.models import Membership
from learner.text import text_hash
from tests import test_loop_helpers as helpers
from tests.test_predict import UNLABELED, _force_review, api_as, trained, world  # noqa: F401 (fixtures)

from .review_helpers import add_version, make_items

pytestmark = pytest.mark.django_db
eager_celery, loop_project = helpers.eager_celery, helpers.loop_project  # fixtures

EXCLUDED_NOTE = "the text is an item a lead excluded from the pool"


def _exclude(client, slug, item_ids):
    reply = client.post(f"/api/projects/{slug}/items/bulk/", {"action": "exclude", "items": list(item_ids)},
                        format="json")
    assert reply.status_code == 200, reply.content
    return reply.json()


def _open(project):
    return set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                         resolved_at__isnull=True).values_list("item_id", flat=True))


@pytest.fixture
def routed(project_factory, make_user):
    project = project_factory("exclr", labels=("billing", "login", "fraud"))
    project.review_share_min, project.review_share_max = 0.05, 1.0
    project.band_low, project.band_high = 0.3, 0.7
    project.save()
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    items = make_items(project, 10)
    route_review(add_version(project, 1, {it.pk: (0, 0.5) for it in items}))  # all doubtful: all routed
    assert _open(project) == {it.pk for it in items}
    return project, client, items


def test_excluding_items_closes_their_low_confidence_tasks_at_once(routed):
    project, client, items = routed
    # a lead's own request on an excluded item stays: the lead asked for it
    client.post("/api/projects/exclr/items/bulk/", {"action": "review", "items": [items[0].pk]}, format="json")
    reply = _exclude(client, "exclr", [it.pk for it in items[:3]])
    assert "3 open low-confidence review tasks closed" in reply["message"], reply
    assert _open(project) == {it.pk for it in items[3:]}
    closed = ReviewTask.objects.filter(project=project, item__in=items[:3], reason=ReviewTask.LOW_CONFIDENCE)
    assert {(t.outcome, t.detail["closed"].startswith("excluded by a lead")) for t in closed} == {("expired", True)}
    assert ReviewTask.objects.filter(project=project, reason=ReviewTask.LEAD_REQUEST, item=items[0],
                                     resolved_at__isnull=True).exists()
    # excluding them again closes nothing more and says nothing about it
    assert "review task" not in _exclude(client, "exclr", [items[0].pk])["message"]


def test_a_routing_pass_closes_the_task_of_an_item_excluded_while_it_was_open(routed):
    """An item excluded before the exclusion closed its task (an older release) or by any other
    write: the next pass closes the task and leaves the item out of the share's pool."""
    project, client, items = routed
    Item.objects.filter(pk=items[0].pk).update(excluded=True)
    result = route_review(add_version(project, 2, {it.pk: (0, 0.5) for it in items}))
    assert _open(project) == {it.pk for it in items[1:]}
    task = ReviewTask.objects.get(project=project, item=items[0], reason=ReviewTask.LOW_CONFIDENCE)
    assert task.outcome == "expired" and task.detail["closed"].startswith("excluded by a lead"), task.detail
    assert result.pool == 9 and result.expired == 1
    # put back into the pool, the item is routed again
    client.post("/api/projects/exclr/items/bulk/", {"action": "include", "items": [items[0].pk]}, format="json")
    route_review(add_version(project, 3, {it.pk: (0, 0.5) for it in items}))
    assert _open(project) == {it.pk for it in items}


@pytest.fixture
def predict_pool(world, trained):  # noqa: F811
    """20 scored unlabeled pool items, every prediction doubtful, 20 % of the pool open at most."""
    alpha = world["alpha"]
    _force_review(trained)
    source = alpha.sources.first()
    pool = [Item.objects.create(project=alpha, source=source, text=text, text_hash=text_hash(text))
            for text in UNLABELED]
    embed_project(alpha)
    score_version(trained)
    alpha.review_share_max, alpha.allow_new_sources = 0.2, True
    alpha.save()
    lead = api_as(world["lead"])

    def predict(texts):
        reply = lead.post("/api/projects/alpha/predict/", {"texts": texts, "queue_for_review": True}, format="json")
        assert reply.status_code == 200, reply.content
        return reply.json()["results"]

    return alpha, lead, pool, predict


FRESH = [f"a brand new complaint about the {w} desk" for w in ("oak", "pine", "elm", "ash")]


def test_the_predict_queue_cap_is_a_share_of_the_pool_without_excluded_items(predict_pool):
    alpha, lead, pool, predict = predict_pool
    _exclude(lead, "alpha", [it.pk for it in pool[:10]])
    # 20 % of the 10 scored unlabeled items left in the pool: 2 open tasks at most, not 4 (of 20)
    rows = predict(FRESH[:3])
    assert [r["queued_for_review"] for r in rows].count(True) == 2, rows
    assert "review queue is full (2 open low-confidence tasks at most" in next(
        r["review_note"] for r in rows if not r["queued_for_review"])


def test_the_predict_queue_says_a_text_is_an_item_a_lead_excluded(predict_pool):
    alpha, lead, pool, predict = predict_pool
    assert predict([UNLABELED[0]])[0]["queued_for_review"]  # its task is open before the exclusion
    message = _exclude(lead, "alpha", [it.pk for it in pool[:10]])["message"]
    predict(FRESH)  # the queue is full now
    # neither "already in the review queue" nor "the review queue is full": the lead took them out
    rows = predict(UNLABELED[:3])
    assert [(r["queued_for_review"], r["review_note"]) for r in rows] == [(False, EXCLUDED_NOTE)] * 3, rows
    assert not _open(alpha) & {it.pk for it in pool[:10]}
    assert "1 open low-confidence review task closed" in message, message


def test_the_unlabeled_sample_leaves_out_excluded_items(loop_project, settings):  # noqa: F811
    from labeling.modeling.embedding import model_id
    from labeling.modeling.embedding_store import project_matrix
    from labeling.modeling.versions import unlabeled_items

    project, _ = loop_project
    settings.LONGTAIL_SELF_TRAINING_ROWS = 100_000
    ids, _ = project_matrix(project.id, model_id())
    labeled, excluded = [int(i) for i in ids[:5]], [int(i) for i in ids[5:12]]
    Item.objects.filter(id__in=excluded).update(excluded=True)
    sample_ids, sample, total = unlabeled_items(project, labeled, seed=0)
    assert not set(sample_ids.tolist()) & set(excluded)
    assert total == len(sample) == len(ids) - 12
    # a sample smaller than the pool draws from the items left, too
    settings.LONGTAIL_SELF_TRAINING_ROWS = 50
    sample_ids, _, total = unlabeled_items(project, labeled, seed=1)
    assert total == len(ids) - 12 and len(sample_ids) == 50 and not set(sample_ids.tolist()) & set(excluded)
