"""What enters the review queue and what stays out of it: the predict API routes by the pool's rule
(band and thresholds) within the review share; a lead's dismissal holds until something relevant
changes; a change of the band or the review share re-routes the queue (a real Celery worker); items
with annotators (open or planned waves) are never in the low-confidence queue."""
import time

import numpy as np
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.loop import pipeline
from labeling.modeling.models import TaskRun
from labeling.modeling.review import route_review
from labeling.modeling.versions import active_model
from labeling.projects.models import Membership
from labeling.projects.services import queue_predictions_for_review
from labeling.waves.models import Wave, WaveItem
from labeling.waves.services import plan_next_wave
from learner.text import text_hash
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop

from . import test_loop_helpers as helpers
from .review_helpers import add_version, make_items
from .test_label_issue_review import flipped  # noqa: F401 - the fixture: 150 labels, 8 flipped
from .test_review_stale_accept import shown_for

eager_celery = helpers.eager_celery
LABELS = ("billing", "login", "fraud")


@pytest.fixture
def lead(make_user):
    return make_user("lea")


def setup_project(project_factory, lead, slug="rules"):
    project = project_factory(slug, labels=LABELS)
    project.band_low, project.band_high = 0.3, 0.7
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.queue_review_predictions = True
    project.save()
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    return project


def as_lead(lead) -> APIClient:
    client = APIClient()
    client.force_authenticate(lead)
    return client


def words(n: int, prefix: str) -> list[str]:
    """Texts that differ in letters (text_hash reads every number as the same)."""
    return [f"{prefix} {helpers._letters(i)}" for i in range(n)]


def distinct_items(project, n: int) -> list[Item]:
    source = project.sources.first()
    return [Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text))
            for text in words(n, "pool item")]


def open_items(project, reason=ReviewTask.LOW_CONFIDENCE):
    return set(ReviewTask.objects.filter(project=project, reason=reason, resolved_at__isnull=True)
               .values_list("item_id", flat=True))


def predictions(version, rows):
    """predict_texts's rows for (label, top probability) pairs, under ``version``'s thresholds (the
    versions here hold stored scores, no trained head: tests/test_predict.py drives the API with a
    real model)."""
    out = []
    for name, prob in rows:
        rest = (1.0 - prob) / (len(LABELS) - 1)
        probabilities = {label: round(prob if label == name else rest, 4) for label in LABELS}
        threshold = float((version.thresholds or {}).get(name) or 0.0)
        out.append({"label": name, "coarse_label": None, "prob": prob, "needs_review": prob < threshold,
                    "fallback": False, "probabilities": probabilities, "model_version": version.number})
    return out


def queue(project, version, texts, rows):
    """The predict API's queueing step on these predictions: its result rows."""
    rows = predictions(version, rows)
    queued = queue_predictions_for_review(project, texts, rows)
    return [{"index": i, **row, "queued_item": queued.get(i)} for i, row in enumerate(rows)]


# --- 1. the predict API ---------------------------------------------------------------------------
def test_predict_api_queues_no_more_than_the_review_share_least_confident_first(db, project_factory, lead):
    project = setup_project(project_factory, lead)
    project.review_share_max = 0.1
    project.save()
    items = make_items(project, 20)
    # 20 scored unlabeled items, all confident: the cap is 2 and routing opens nothing.
    version = add_version(project, 1, {it.pk: (0, 0.95) for it in items}, thresholds={"billing": 0.9})
    assert route_review(version).created == 0
    # Above the band, below billing's 0.9 threshold; the least confident texts come last.
    probs = [0.75 + 0.002 * i for i in range(50)][::-1]
    texts = words(50, "live text")
    results = queue(project, version, texts, [("billing", p) for p in probs])
    tasks = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True)
    assert tasks.count() == 2
    queued = [r for r in results if r["queued_for_review"]]
    assert sorted(r["index"] for r in queued) == [48, 49]  # the two least confident of the request
    assert {r["queued_item"] for r in queued} == set(tasks.values_list("item_id", flat=True))
    assert set(tasks.values_list("model_version", flat=True)) == {1}
    assert all("below the threshold 0.90 of 'billing'" in t.detail["why"] for t in tasks)
    left = [r for r in results if not r["queued_for_review"]]
    assert len(left) == 48 and all(r["queued_item"] is None and "review queue is full" in r["review_note"]
                                   for r in left)
    # Asking again queues nothing more: the queue is at the cap.
    queue(project, version, texts, [("billing", p) for p in probs])
    assert tasks.count() == 2


def test_predict_api_routes_by_the_band_too_not_only_the_thresholds(db, project_factory, lead):
    project = setup_project(project_factory, lead)
    items = make_items(project, 20)
    version = add_version(project, 1, {it.pk: (0, 0.95) for it in items})  # no thresholds
    rows = [("login", 0.55), ("fraud", 0.92), ("billing", 0.71)]
    results = queue(project, version, ["in the band", "confident", "just above the band"], rows)
    assert not any(r["needs_review"] for r in results)
    assert [r["queued_for_review"] for r in results] == [True, False, False]
    task = ReviewTask.objects.get(project=project, reason=ReviewTask.LOW_CONFIDENCE)
    assert task.item_id == results[0]["queued_item"] and task.detail["predicted"] == "login"
    assert "inside the band 0.30–0.70" in task.detail["why"]
    assert "not doubtful" in results[1]["review_note"] and "not doubtful" in results[2]["review_note"]


def test_predict_api_leaves_out_labeled_items_and_items_with_annotators(db, project_factory, lead):
    project = setup_project(project_factory, lead)
    items = distinct_items(project, 20)
    version = add_version(project, 1, {it.pk: (0, 0.95) for it in items})
    Annotation.objects.create(project=project, item=items[0], label=project.labels.get(name="billing"),
                              origin=Annotation.IMPORT)
    wave = Wave.objects.create(project=project, number=1, state=Wave.PLANNED, size=1)
    WaveItem.objects.create(wave=wave, item=items[1], strategy="band", inclusion_prob=0.1, position=0)
    texts = [items[0].text, items[1].text, items[2].text]
    results = queue(project, version, texts, [("login", 0.5)] * 3)
    assert [r["queued_for_review"] for r in results] == [False, False, True]
    assert "labeled" in results[0]["review_note"] and "wave" in results[1]["review_note"]
    assert open_items(project) == {items[2].pk}


# --- 2. a lead's dismissal holds ------------------------------------------------------------------
def test_a_dismissed_prediction_is_not_queued_again_unless_the_model_predicts_otherwise(db, project_factory,
                                                                                        lead):
    project = setup_project(project_factory, lead)
    col = {name: i for i, name in enumerate(project.labels.order_by("order", "name").values_list("name", flat=True))}
    items = make_items(project, 20)
    scores = {it.pk: (col["login"], 0.5 if i < 4 else 0.95) for i, it in enumerate(items)}  # 4 in the band
    route_review(add_version(project, 1, scores))
    assert open_items(project) == {it.pk for it in items[:4]}
    tasks = list(ReviewTask.objects.filter(item__in=items[:3]).order_by("item_id"))
    r = as_lead(lead).post(f"/api/projects/{project.slug}/review/bulk/",
                           {"action": "dismiss", "tasks": [t.pk for t in tasks], "shown": shown_for(tasks)},
                           format="json")
    assert r.status_code == 200 and len(r.json()["done"]) == 3, r.content
    # v2: the same prediction for items 0 and 1, another label for item 2.
    scores2 = {**scores, items[2].pk: (col["fraud"], 0.5)}
    route_review(add_version(project, 2, scores2))
    assert open_items(project) == {items[2].pk, items[3].pk}
    assert ReviewTask.objects.get(item=items[2], resolved_at__isnull=True).detail["predicted"] == "fraud"
    # v3 predicts "login" for item 2 again, the prediction the lead let stand: its open task closes.
    scores3 = {**scores2, items[2].pk: (col["login"], 0.45)}
    route_review(add_version(project, 3, scores3))
    assert open_items(project) == {items[3].pk}
    closed = ReviewTask.objects.filter(item=items[2], outcome=ReviewTask.EXPIRED).get()
    assert "dismissed the prediction 'login'" in closed.detail["closed"]


def test_a_dismissed_label_issue_stays_closed_until_the_label_changes(flipped, lead,  # noqa: F811
                                                                      django_capture_on_commit_callbacks):
    project, truth, wrong = flipped
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    issues = {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                                             resolved_at__isnull=True)}
    hit = min(set(issues) & set(wrong))
    r = as_lead(lead).post(f"/api/projects/{project.slug}/review/bulk/",
                           {"action": "dismiss", "tasks": [issues[hit].pk], "shown": shown_for([issues[hit]])},
                           format="json")
    assert r.status_code == 200 and r.json()["done"] == [issues[hit].pk], r.content
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert active_model(project).number == 2
    still = open_items(project, ReviewTask.LABEL_ISSUE)
    assert hit not in still
    assert len(set(wrong) & still) >= len(set(issues) & set(wrong)) - 2  # the other flips stay flagged
    assert ReviewTask.objects.filter(item_id=hit, reason=ReviewTask.LABEL_ISSUE).count() == 1
    # The item's label changes (to the third label, still wrong): the new label is open to question.
    third = next(name for name in LABELS if name not in (truth[hit], wrong[hit]))
    Annotation.objects.create(project=project, item_id=hit, label=project.labels.get(name=third),
                              origin=Annotation.ADJUDICATION)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    task = ReviewTask.objects.get(item_id=hit, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True)
    assert task.detail["given_label"] == third and task.model_version == 3


# --- 3. settings re-route the queue (a real worker) -----------------------------------------------
def _wait_until(check, timeout, worker, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if worker.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"the queue did not follow the settings; worker log:\n{log_path.read_text()[-3000:]}")


def test_changing_the_band_or_the_review_share_reroutes_the_queue(transactional_db, project_factory, make_user,
                                                                  tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    lead = make_user("lea")
    project = setup_project(project_factory, lead, slug="settings")
    items = make_items(project, 40)
    probs = [0.2, 0.35, 0.5, 0.65, 0.75, 0.9] * 6 + [0.99] * 4
    scores = {it.pk: (i % 3, p) for i, (it, p) in enumerate(zip(items, probs, strict=True))}
    route_review(add_version(project, 1, scores))
    assert open_items(project) == {pk for pk, (_, p) in scores.items() if 0.3 <= p <= 0.7}
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path)
    try:
        client = as_lead(lead)
        r = client.patch(f"/api/projects/{project.slug}/", {"band_low": 0.6, "band_high": 0.8}, format="json")
        assert r.status_code == 200, r.content
        narrow = {pk for pk, (_, p) in scores.items() if 0.6 <= p <= 0.8}  # 0.65 and 0.75: 12 items
        _wait_until(lambda: open_items(project) == narrow, 60, worker, log_path)
        assert set(ReviewTask.objects.filter(resolved_at__isnull=True).values_list("model_version", flat=True)) == {1}
        # A smaller review share trims the queue: the most confident close first.
        r = client.patch(f"/api/projects/{project.slug}/", {"review_share_max": 0.1}, format="json")
        assert r.status_code == 200, r.content
        least = {pk for pk, (_, p) in scores.items() if p == 0.65}
        _wait_until(lambda: open_items(project) == set(sorted(least)[:4]), 60, worker, log_path)
        over = ReviewTask.objects.filter(project=project, outcome=ReviewTask.EXPIRED, item_id__in=narrow)
        assert over.count() == 8 and all("over the review share" in t.detail["closed"] for t in over)
    finally:
        stop(worker)


# --- 4. items with annotators ---------------------------------------------------------------------
def test_items_in_open_or_planned_waves_are_not_routed_and_leave_the_queue(db, project_factory, lead):
    project = setup_project(project_factory, lead)
    items = make_items(project, 20)
    scores = {it.pk: (0, 0.5 if i < 6 else 0.95) for i, it in enumerate(items)}
    open_wave = Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=2)
    for position, item in enumerate(items[:2]):
        WaveItem.objects.create(wave=open_wave, item=item, strategy="random", inclusion_prob=0.3, position=position)
    route_review(add_version(project, 1, scores))
    assert open_items(project) == {it.pk for it in items[2:6]}
    planned = Wave.objects.create(project=project, number=2, state=Wave.PLANNED, size=1)
    WaveItem.objects.create(wave=planned, item=items[2], strategy="band", inclusion_prob=0.2, position=0)
    route_review(add_version(project, 2, scores))
    assert open_items(project) == {it.pk for it in items[3:6]}
    closed = ReviewTask.objects.get(item=items[2])
    assert closed.outcome == ReviewTask.EXPIRED and "wave" in closed.detail["closed"]


def test_an_unanswered_known_pi_pick_of_a_closed_wave_stays_out_but_a_top_k_pick_may_be_routed(
        db, project_factory, lead):
    """A pick drawn with a known inclusion probability is in the pool estimates' sample even when
    its wave closed unanswered: accepting the model's label there would count the prediction as its
    truth, so it stays with annotators. A deterministic pick (no π) is in no estimate."""
    project = setup_project(project_factory, lead)
    items = make_items(project, 20)
    scores = {it.pk: (0, 0.5 if i < 6 else 0.95) for i, it in enumerate(items)}
    closed = Wave.objects.create(project=project, number=1, state=Wave.CLOSED, size=2)
    WaveItem.objects.create(wave=closed, item=items[0], strategy="random", inclusion_prob=0.3, position=0)
    WaveItem.objects.create(wave=closed, item=items[1], strategy="margin", inclusion_prob=None, position=1)
    route_review(add_version(project, 1, scores))
    assert open_items(project) == {it.pk for it in items[1:6]}


def _band_project_routed(project_factory, slug, *, seed):
    """A project whose next waves pick mostly from the band (0.3-0.7), with a version whose scores
    put much of the unlabeled pool in it, routed: (project, unlabeled item ids, the routing)."""
    project, _ = helpers.build_project(project_factory, slug=slug, wave_size=60,
                                       strategy_mix={"band": 0.9}, random_share=0.1)
    project.band_low, project.band_high, project.review_share_max = 0.3, 0.7, 0.5
    project.save()
    labeled = set(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    rng = np.random.default_rng(seed)
    pool = list(Item.objects.filter(project=project).exclude(pk__in=labeled).values_list("pk", flat=True))
    scores = {pk: (int(rng.integers(3)), float(rng.uniform(0.35, 0.95))) for pk in pool}
    return project, pool, route_review(add_version(project, 1, {**scores, **{pk: (0, 0.99) for pk in labeled}}))


def test_a_retrain_never_leaves_an_item_both_in_the_new_wave_and_in_review(db, project_factory, eager_celery):
    # The pipeline's last step (plan and open a wave) after routing, with stored scores in the band.
    project, pool, routed = _band_project_routed(project_factory, "overlap", seed=1)
    assert routed.created == routed.cap == len(pool) // 2
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={})
    pipeline.finish_retrain(run)
    run.refresh_from_db()
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    picked = set(WaveItem.objects.filter(wave=wave).values_list("item_id", flat=True))
    assert run.state == TaskRun.DONE and len(picked) == 60
    assert picked and not picked & open_items(project)
    released = ReviewTask.objects.filter(project=project, item_id__in=picked, outcome=ReviewTask.EXPIRED)
    assert released.exists() and all(f"picked for wave {wave.number}" in t.detail["closed"] for t in released)
    assert len(open_items(project)) + released.count() == routed.created


def test_a_wave_planned_by_hand_releases_its_items_from_review_at_once(db, project_factory):
    """Not only the loop's pipeline: planning a wave any way (here the lead's "plan next wave")
    closes the open low-confidence tasks of the items it picks."""
    project, pool, routed = _band_project_routed(project_factory, "by-hand", seed=2)
    assert routed.created > 0
    wave = plan_next_wave(project)
    assert wave.state == Wave.PLANNED
    picked = set(WaveItem.objects.filter(wave=wave).values_list("item_id", flat=True))
    assert picked and not picked & open_items(project)
    released = ReviewTask.objects.filter(project=project, item_id__in=picked, outcome=ReviewTask.EXPIRED)
    assert released.exists() and len(open_items(project)) + released.count() == routed.created


def test_predict_api_reads_what_it_knows_of_existing_items_once_per_request(db, project_factory, lead):
    """The queries of the queueing step do not grow with the number of texts that match pool
    items (it read four rows per such text before), and a text sent twice in one request makes
    one item and one task."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = setup_project(project_factory, lead)
    items = distinct_items(project, 60)
    version = add_version(project, 1, {it.pk: (0, 0.95) for it in items})
    billing = project.labels.get(name="billing")
    for item in items[:30]:
        Annotation.objects.create(project=project, item=item, label=billing, origin=Annotation.IMPORT)
    wave = Wave.objects.create(project=project, number=1, state=Wave.PLANNED, size=30)
    for position, item in enumerate(items[30:]):
        WaveItem.objects.create(wave=wave, item=item, strategy="band", inclusion_prob=0.1, position=position)

    def queries(chosen):
        texts = [it.text for it in chosen]
        with CaptureQueriesContext(connection) as seen:
            results = queue(project, version, texts, [("login", 0.5)] * len(texts))
        assert not any(r["queued_for_review"] for r in results)
        return len(seen)

    few, many = queries(items[:2] + items[30:32]), queries(items[:20] + items[30:50])
    assert many == few, (few, many)
    results = queue(project, version, ["twice", "twice"], [("login", 0.5), ("login", 0.5)])
    assert [r["queued_for_review"] for r in results] == [True, True]
    assert results[0]["queued_item"] == results[1]["queued_item"]
    assert Item.objects.filter(project=project, text="twice").count() == 1
    assert ReviewTask.objects.filter(item_id=results[0]["queued_item"]).count() == 1
