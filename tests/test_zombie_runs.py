"""An execution the stale-run sweep took for dead but that goes on (a frozen worker, a heartbeat
thread stopped by one database error) must not revive its run, store its late result or serve it
over its replacement's; and one delivery of a task message runs at a time, at most 1 +
LONGTAIL_TASK_MAX_REQUEUES times (labeling.loop.executions, against the real Redis)."""
import os
import threading
import time
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from tests.service_processes import require_redis
from tests.test_loop_helpers import build_project


@pytest.fixture
def project(project_factory, settings):
    settings.LONGTAIL_TASK_STALE_SECONDS = 60
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = 600
    return build_project(project_factory, slug="zombie", n_items=60, n_labeled=30)[0]


def _stale(project, version_state):
    """A running retrain gone quiet 61 s ago with the version it trains, then the sweep."""
    from labeling.loop.runs import expire_stale_runs
    from labeling.modeling.models import ModelVersion, TaskRun

    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={"stage": "train"})
    TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=61))
    version = ModelVersion.objects.create(project=project, number=7, state=version_state, config={"task_run": run.pk})
    assert [r.pk for r in expire_stale_runs(project)] == [run.pk]
    return run, version


def test_a_run_failed_as_stale_is_never_written_again(project):
    from labeling.loop.runs import add_progress, update_run
    from labeling.modeling.models import TaskRun

    run, _ = _stale(project, "training")
    # what the execution that is in fact still going reports next
    assert update_run(run.pk, state=TaskRun.DONE, progress=1.0, message="Scoring the pool.", finished=True) is False
    add_progress(run.pk, 0.5)
    run.refresh_from_db()
    assert run.state == TaskRun.FAILED and run.message.startswith("Interrupted: no heartbeat")
    assert run.progress < 0.5


def test_its_late_model_is_neither_stored_nor_served(project):
    from labeling.modeling import versions
    from labeling.modeling.models import ModelVersion
    from learner.training import TrainConfig, train_classifier

    run, training = _stale(project, "training")
    training.refresh_from_db()
    assert training.state == ModelVersion.FAILED  # failed with its run by the sweep
    rng = np.random.default_rng(0)
    clf = train_classifier(rng.normal(size=(40, 8)), np.repeat(["a", "b"], 20), config=TrainConfig(cv_folds=2))
    with pytest.raises(versions.VersionAbandoned, match="not stored"):
        versions.finish_version(training, clf, 40, {})
    training.refresh_from_db()
    assert training.state == ModelVersion.FAILED and training.label_map in ([], None)
    # a version that was already ready when its run was failed is not activated by it
    ready = ModelVersion.objects.create(project=project, number=8, state=ModelVersion.READY,
                                        config={"task_run": run.pk})
    with pytest.raises(versions.VersionAbandoned, match="was failed meanwhile"):
        versions.activate_version(ready, run_id=run.pk)
    assert not ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).exists()
    versions.activate_version(ready)  # a lead's own activation is not tied to a run
    assert ModelVersion.objects.get(pk=ready.pk).state == ModelVersion.ACTIVE


def test_one_failed_beat_does_not_stop_the_heartbeat(settings):
    from labeling.loop.runs import _beating

    settings.LONGTAIL_TASK_HEARTBEAT_SECONDS = 0.05
    beats = []

    def touch():
        beats.append(time.monotonic())
        if len(beats) == 1:
            raise ConnectionError("the database went away for a moment")

    with _beating("heartbeat-test", touch):
        time.sleep(0.6)
    assert len(beats) >= 4  # it stopped at the first error before


# --- one execution per message ---------------------------------------------------------------------
@pytest.fixture
def claims(settings):
    require_redis()
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.LONGTAIL_TASK_CLAIM_SECONDS = 0.6
    settings.LONGTAIL_TASK_MAX_REQUEUES = 2


def _delivery(task, task_id):
    task.push_request(id=task_id, retries=0, is_eager=False)


def test_a_duplicate_delivery_while_the_task_runs_does_nothing(claims):
    from labeling.loop.executions import claimed
    from labeling.loop.tasks import train_model

    task_id = str(uuid.uuid4())
    holding, release, outcome = threading.Event(), threading.Event(), {}

    def first():
        _delivery(train_model, task_id)
        try:
            with claimed(train_model, (1,), {}) as mine:
                outcome["first"] = mine
                holding.set()
                release.wait(5)  # runs for longer than a claim lives: its thread renews it
        finally:
            train_model.pop_request()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(5)
    time.sleep(1.0)
    _delivery(train_model, task_id)  # the same message, given back while it runs
    try:
        with claimed(train_model, (1,), {}) as mine:
            outcome["second"] = mine
    finally:
        train_model.pop_request()
    import redis
    from django.conf import settings

    from labeling.loop.executions import KEY

    deliveries = redis.Redis.from_url(settings.CELERY_BROKER_URL).get(KEY.format(id=task_id, retry=0) + ":deliveries")
    release.set()
    thread.join()
    assert outcome == {"first": True, "second": False}
    assert deliveries == b"1"  # a duplicate is not a crash: counting it failed live runs after 3 drops


def test_a_delivery_after_its_holder_died_takes_over(claims):
    import redis
    from django.conf import settings

    from labeling.loop.executions import KEY, claimed
    from labeling.loop.tasks import train_model

    task_id = str(uuid.uuid4())
    # what a killed worker process leaves: its claim, no longer renewed
    redis.Redis.from_url(settings.CELERY_BROKER_URL).set(KEY.format(id=task_id, retry=0), "dead", px=600)
    _delivery(train_model, task_id)
    try:
        started = time.monotonic()
        with claimed(train_model, (1,), {}) as mine:
            assert mine is True
        assert time.monotonic() - started < 5
    finally:
        train_model.pop_request()


def test_a_message_delivered_too_often_fails_its_run_instead(claims, project):
    from labeling.loop.executions import claimed
    from labeling.loop.tasks import train_model
    from labeling.modeling.models import ModelVersion, TaskRun

    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={"stage": "train"})
    version = ModelVersion.objects.create(project=project, number=3, state=ModelVersion.TRAINING,
                                          config={"task_run": run.pk})
    import redis
    from django.conf import settings

    from labeling.loop.executions import KEY

    task_id = str(uuid.uuid4())
    allowed = []
    for _ in range(4):  # the worker process died in each of the first three
        _delivery(train_model, task_id)
        try:
            with claimed(train_model, (run.pk,), {}) as mine:
                allowed.append(mine)
        finally:
            train_model.pop_request()
        # what a killed process leaves is a claim nobody renews, which lapses
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(KEY.format(id=task_id, retry=0))
    assert allowed == [True, True, True, False]
    run.refresh_from_db()
    version.refresh_from_db()
    assert run.state == TaskRun.FAILED and "delivered 4 times" in run.message, run.message
    assert version.state == ModelVersion.FAILED


def test_a_pending_run_whose_message_the_broker_lost_is_given_up_at_the_cut_off(claims, project):
    """Not after the visibility timeout plus the cut-off (about 40 minutes by default), which
    blocked the project's retrains and plans all that time; a run whose message is still queued
    keeps waiting."""
    import redis
    from django.conf import settings

    from labeling.loop.runs import expire_stale_runs, record_task_id
    from labeling.loop.tasks import start_embedding
    from labeling.modeling.models import TaskRun

    def pending(task_id):
        run = TaskRun.objects.create(project=project, kind="embed", state=TaskRun.PENDING, detail={"stage": "queued"})
        record_task_id(run.pk, task_id)
        TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=61))
        return run

    lost = pending(str(uuid.uuid4()))  # sent, then Redis restarted without its data
    sent = start_embedding.apply_async(args=[0], queue="embed")  # no worker here: it stays queued
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        kept = pending(sent.id)
        assert expire_stale_runs(project) == []  # a web request's sweep never reads the queues
        assert [r.pk for r in expire_stale_runs(project, ask_broker=True)] == [lost.pk]
        lost.refresh_from_db()
        assert lost.state == TaskRun.FAILED and lost.message.startswith("Lost: queued 6"), lost.message
        assert TaskRun.objects.get(pk=kept.pk).state == TaskRun.PENDING
    finally:
        for raw in broker.lrange("embed", 0, -1):
            if sent.id.encode() in raw:
                broker.lrem("embed", 0, raw)


def test_a_copy_handed_out_after_the_task_ended_does_nothing(claims):
    from labeling.loop.executions import claimed
    from labeling.loop.tasks import train_model

    task_id = str(uuid.uuid4())
    outcomes = []
    for _ in range(2):  # the task ran to its end; then a late copy of its message
        _delivery(train_model, task_id)
        try:
            started = time.monotonic()
            with claimed(train_model, (1,), {}) as mine:
                outcomes.append(mine)
        finally:
            train_model.pop_request()
    assert outcomes == [True, False] and time.monotonic() - started < 0.5  # no wait: it is done


def test_a_duplicate_delivery_stores_no_result_and_reports_no_chord_part(claims):
    """Through Celery's own tracer: a duplicate that returned None was recorded as SUCCESS, which
    counted its chord part done while the real execution still worked (the next pipeline step
    would start on missing vectors or scores). It is now ignored: nothing stored."""
    import redis
    from celery.app.trace import build_tracer
    from celery.states import IGNORED, PENDING
    from django.conf import settings

    from labeling.loop.executions import KEY
    from labeling.loop.tasks import embed_items

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    task_id, stop = str(uuid.uuid4()), threading.Event()

    def live_holder():  # the first delivery, still embedding, renewing its claim
        while not stop.is_set():
            broker.set(KEY.format(id=task_id, retry=0), "first-delivery", px=600)
            time.sleep(0.1)

    holder = threading.Thread(target=live_holder)
    holder.start()
    try:
        time.sleep(0.2)
        tracer = build_tracer(embed_items.name, embed_items, eager=False, propagate=False, app=embed_items._get_app())
        traced = tracer(task_id, ([1, 2, 3], None, 0.0), {}, {"id": task_id, "retries": 0, "delivery_info": {},
                                                          "is_eager": False})
    finally:
        stop.set()
        holder.join()
        broker.delete(KEY.format(id=task_id, retry=0))
    assert traced[1] is not None and traced[1].state == IGNORED
    assert embed_items.AsyncResult(task_id).state == PENDING  # no result stored for it


def test_a_late_failure_keeps_the_sweeps_reason_on_the_version(project):
    from labeling.modeling.models import ModelVersion
    from labeling.modeling.versions import VersionAbandoned, fail_training_version

    _, failed = _stale(project, "training")
    failed.refresh_from_db()
    reason, when = failed.error, failed.finished_at
    assert reason.startswith("Interrupted")
    fail_training_version(failed, VersionAbandoned("late"))  # what the late execution's handler does
    failed.refresh_from_db()
    assert (failed.error, failed.finished_at) == (reason, when)
    training = ModelVersion.objects.create(project=project, number=9, state=ModelVersion.TRAINING)
    fail_training_version(training, ValueError("the pool has no vectors"))
    training.refresh_from_db()
    assert training.state == ModelVersion.FAILED and training.error == "ValueError: the pool has no vectors"
