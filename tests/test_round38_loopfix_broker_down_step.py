"""Round 38 (loopfix): a step that sends the run's next step while the broker (Redis) is down.

In a worker, publishing to a Redis that does not answer raises kombu's OperationalError, which was
not among the errors a step retries (labeling.loop.executions.TRANSIENT): the step failed outright,
ClaimedTask.on_failure failed its run for good ("start_embedding failed: …"), and nothing queued it
again, against docs/operations.md ("a background step that meets the outage is retried"). Now the
step is retried; its retry cannot be sent to the dead broker either, so Celery drops the message
(Reject) and the run stays open: once Redis answers, the workers' sweep finds none of its next
step's messages waiting, fails it as interrupted and queues it again, and the new run finishes.

Real stack: a Celery worker whose broker is a redis-server of this test's own (stopped while the
step runs, then started again empty) and whose result store is a second one that stays up (a
result store that answers is what lets the failure reach on_failure: with both down, storing the
failure raised first and the run was left open by accident); PostgreSQL. The step is held at its
first write to the run by a row lock this test takes, so Redis is down exactly when it sends.
"""
import time

import pytest
from celery import Celery
from django.db import connection, transaction

from tests.service_processes import OwnRedis, require_postgres, start_worker, stop

pytestmark = pytest.mark.worker

STALE = 3  # LONGTAIL_TASK_STALE_SECONDS: the sweep runs every second


@pytest.fixture
def servers(tmp_path):
    broker, results = OwnRedis(tmp_path / "broker"), OwnRedis(tmp_path / "results")
    broker.start()
    results.start()
    yield broker, results
    broker.stop()
    results.stop()


def _waiting_on_a_lock() -> int:
    """Other sessions of the test database blocked on a lock (the worker's UPDATE of the run)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is read once per transaction
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def test_a_step_that_meets_the_broker_down_when_sending_its_next_step_is_retried_not_failed(
        transactional_db, project_factory, tmp_path, servers):
    require_postgres()
    from labeling.modeling.models import TaskRun

    broker, results = servers
    project = project_factory(slug="broker-down")  # no items: start_embedding sends finish_embedding at once
    run = TaskRun.objects.create(project=project, kind="embed", message="Queued.",
                                 detail={"stage": "queued", "plan_when_done": False})
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, REDIS_URL=broker.url, CELERY_RESULT_BACKEND=results.url,
                          LONGTAIL_TASK_STALE_SECONDS=STALE, LONGTAIL_TASK_MAX_REQUEUES=1,
                          LONGTAIL_TASK_SOFT_TIME_LIMIT=60, LONGTAIL_TASK_TIME_LIMIT=90,
                          LONGTAIL_BROKER_VISIBILITY_TIMEOUT=600, LONGTAIL_TASK_CLAIM_SECONDS=2,
                          MEDIA_ROOT=str(tmp_path / "media"), LONGTAIL_ARTIFACT_DIR=str(tmp_path / "artifacts"),
                          LONGTAIL_WARM_ENCODER="0")
    try:
        with transaction.atomic():
            TaskRun.objects.select_for_update().get(pk=run.pk)  # holds the step at its first write to the run
            sender = Celery(broker=broker.url, set_as_current=False)  # later tests keep the project's app
            sender.send_task("labeling.loop.tasks.start_embedding", args=[run.pk], queue="default")
            held = _wait(lambda: _waiting_on_a_lock() > 0, 120)
            assert held, "the worker never reached the run; its log:\n" + log_path.read_text()[-3000:]
            broker.stop()  # Redis goes down while the step runs: its next step cannot be sent
        # The step goes on: it marks the run running and sends finish_embedding to the dead broker.
        assert _wait(lambda: TaskRun.objects.filter(pk=run.pk).exclude(state=TaskRun.PENDING).exists(), 60), \
            log_path.read_text()[-3000:]
        time.sleep(2 * STALE)  # the sweep, meanwhile, cannot ask the broker: the run is left as it is
        run.refresh_from_db()
        assert run.state == TaskRun.RUNNING, (
            f"the step whose next step met the broker down was not retried: its run is {run.state} with "
            f"{run.message!r} and is never queued again (worker log:\n{log_path.read_text()[-2000:]})")

        broker.start()  # back, empty: the sweep finds none of the run's next steps and queues it again
        again = _wait(lambda: TaskRun.objects.filter(project=project, kind="embed", state=TaskRun.DONE,
                                                     detail__requeued_from=run.pk).exists(), 90)
        run.refresh_from_db()
        assert again, (run.state, run.message, log_path.read_text()[-3000:])
        assert run.state == TaskRun.FAILED and run.message.startswith("Interrupted:"), run.message
        assert "Queued again as task" in run.message, run.message
    finally:
        stop(worker)
