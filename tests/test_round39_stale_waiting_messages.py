"""Work whose message still waits in the broker is waiting, not lost, however long it waits
(labeling.loop.stale_rule), against the real Redis broker with no worker:

- the workers' sweep asks the broker about every pending run and upload past the stale cut-off,
  also past the cut-off plus the visibility timeout: one whose message is queued (here behind
  2,100 other messages, at the tail where the oldest wait) is kept; one whose message is gone is
  failed as lost and, a run, queued again;
- a web request (an upload, a retrain request) never reads the queues and leaves such work to the
  sweep: a second upload made while the workers are down does not fail the first;
- the sweep's read of the queues is bounded (broker.PAGE, broker.MAX_READ): a read cut short
  never takes a message it did not reach for lost.
"""
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.service_processes import fresh_broker, require_redis
from tests.test_loop_helpers import build_project

STALE, VISIBILITY = 60, 600
LONG_AGO = STALE + VISIBILITY + 120  # past the pending cut-off (the old age-only rule)
OTHER_WORK = 2_100  # messages queued after the old ones: more than two pages of broker.PAGE


@pytest.fixture
def broker(settings, tmp_path):
    require_redis()
    fresh_broker()
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = VISIBILITY
    settings.LONGTAIL_TASK_MAX_REQUEUES = 2
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield
    fresh_broker()  # the messages left queued here must not reach a later test's worker


@pytest.fixture
def reads(broker, monkeypatch):
    """The messages the sweep reads from the queue lists, counted on the broker's client."""
    from labeling.loop import broker as broker_module

    client = broker_module.client()
    counted = Counter()
    original = client.lrange

    def lrange(*args, **kwargs):
        page = original(*args, **kwargs)
        counted["calls"] += 1
        counted["messages"] += len(page)
        return page
    monkeypatch.setattr(client, "lrange", lrange)
    return counted


def _age(model, pk, seconds):
    model.objects.filter(pk=pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def _queue_other_work(n):
    """n real task messages on the embed queue after the old ones (another project's chunks)."""
    from labeling.loop.tasks import start_embedding

    for _ in range(n):
        start_embedding.apply_async(args=[0], queue="embed")


def _upload(project, name, django_capture_on_commit_callbacks):
    from labeling.items.models import ImportBatch
    from labeling.items.services import upload_path_for
    from labeling.loop.triggers import start_upload_import

    batch = ImportBatch.objects.create(project=project, filename=name)
    path = upload_path_for(batch, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("text,source\nmy card was charged twice,email\n")
    with django_capture_on_commit_callbacks(execute=True):
        start_upload_import(batch, path, skip_invalid=False)
    return batch, path


def test_the_sweep_keeps_what_waits_behind_a_long_queue_and_fails_only_what_is_lost(
        reads, db, project_factory, django_capture_on_commit_callbacks):
    from labeling.items.models import ImportBatch
    from labeling.loop import broker as broker_module
    from labeling.loop.runs import record_task_id
    from labeling.loop.sweep_imports import expire_stale_imports
    from labeling.loop.tasks import start_embedding
    from labeling.loop.triggers import recover_stale_runs
    from labeling.modeling.models import TaskRun

    project, _ = build_project(project_factory, slug="long-queue", n_items=30, n_labeled=12)
    waiting = TaskRun.objects.create(project=project, kind="embed", message="Queued.", detail={"stage": "queued"})
    record_task_id(waiting.pk, start_embedding.apply_async(args=[waiting.pk], queue="embed").id)
    lost = TaskRun.objects.create(project=project, kind="embed", message="Queued.", detail={"stage": "queued"})
    record_task_id(lost.pk, "a-message-redis-lost")
    batch, path = _upload(project, "tickets.csv", django_capture_on_commit_callbacks)
    _queue_other_work(OTHER_WORK)
    for pk in (waiting.pk, lost.pk):
        _age(TaskRun, pk, LONG_AGO)
    _age(ImportBatch, batch.pk, LONG_AGO)

    reads.clear()
    queued_again = recover_stale_runs()  # the workers' periodic sweep
    assert reads["messages"] <= 2 * (OTHER_WORK + 3), reads  # the queues once, and once more a second later
    assert expire_stale_imports(ask_broker=True) == []
    waiting.refresh_from_db()
    lost.refresh_from_db()
    assert waiting.state == TaskRun.PENDING, waiting.message  # its message is the oldest in a long queue
    assert lost.state == TaskRun.FAILED and lost.message.startswith("Lost: queued 7"), lost.message
    assert [run.detail["requeued_from"] for run in queued_again] == [lost.pk]  # queued again, as before
    assert ImportBatch.objects.get(pk=batch.pk).state == ImportBatch.PENDING and path.exists()

    # A read cut short (a queue longer than MAX_READ) takes nothing it did not reach for lost.
    broker_module.MAX_READ, max_read = 1_500, broker_module.MAX_READ
    try:
        fresh_broker()  # Redis loses the upload's message and the run's...
        _queue_other_work(OTHER_WORK)  # ...and other work fills the queue again
        reads.clear()
        assert expire_stale_imports(ask_broker=True) == []
        assert reads["messages"] <= 2 * 1_500, reads
    finally:
        broker_module.MAX_READ = max_read
    assert ImportBatch.objects.get(pk=batch.pk).state == ImportBatch.PENDING

    fresh_broker()
    assert [b.pk for b in expire_stale_imports(ask_broker=True)] == [batch.pk]  # read whole: it is lost
    batch.refresh_from_db()
    assert batch.errors[0]["message"].startswith("Lost: queued 7"), batch.errors  # 780 s and the test's own time
    assert not path.exists()


def test_a_web_request_leaves_work_still_queued_to_the_sweep(broker, db, project_factory,
                                                            django_capture_on_commit_callbacks):
    """Workers down all night: the morning's upload does not fail the evening's, whose message is
    still queued; nor does a retrain request fail the retrain queued behind other work."""
    from labeling.items.models import ImportBatch
    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import TaskRun

    project, _ = build_project(project_factory, slug="night", n_items=30, n_labeled=12)
    evening, evening_path = _upload(project, "evening.csv", django_capture_on_commit_callbacks)
    _age(ImportBatch, evening.pk, LONG_AGO)
    _upload(project, "morning.csv", django_capture_on_commit_callbacks)
    evening.refresh_from_db()
    assert evening.state == ImportBatch.PENDING, evening.errors
    assert evening_path.exists()

    with django_capture_on_commit_callbacks(execute=True):
        retrain = request_retrain(project, reason="manual")
    retrain.refresh_from_db()
    assert retrain.detail.get("task_id"), retrain.message
    _age(TaskRun, retrain.pk, LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        again = request_retrain(project, reason="manual")
    assert again.pk == retrain.pk  # the one still queued, not a new one at the back of the queue
    assert TaskRun.objects.get(pk=retrain.pk).state == TaskRun.PENDING


def test_without_a_broker_to_ask_the_age_rule_applies(broker, db, project_factory, settings):
    """No Redis broker (in-process tasks): nothing can be asked, and a pending run is given up
    once it has waited the cut-off plus the visibility timeout, as before."""
    from labeling.loop.runs import expire_stale_runs, record_task_id
    from labeling.modeling.models import TaskRun

    settings.CELERY_BROKER_URL = "memory://"
    project, _ = build_project(project_factory, slug="no-broker", n_items=30, n_labeled=12)
    run = TaskRun.objects.create(project=project, kind="embed", message="Queued.", detail={"stage": "queued"})
    record_task_id(run.pk, "a-message")
    _age(TaskRun, run.pk, STALE + VISIBILITY - 5)
    assert expire_stale_runs(project) == [] and expire_stale_runs(ask_broker=True) == []
    _age(TaskRun, run.pk, STALE + VISIBILITY + 5)
    assert [r.pk for r in expire_stale_runs(project)] == [run.pk]
    run.refresh_from_db()
    assert run.message.startswith(f"Interrupted: queued {STALE + VISIBILITY + 5} s ago and never started"), \
        run.message
