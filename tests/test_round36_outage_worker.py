"""A retrain through a short PostgreSQL outage: a real Celery worker reaches the test database
through a proxy (tests/db_outage.py) that the test cuts for a few seconds; the shared server runs on.

Before, the outage left the run "running" (or pending) for minutes: the retried delivery's first
query, the check that the run still exists (labeling.loop.executions.gone_row), ran outside the
task's autoretry, and its retry came "in 0 s" (full jitter), into the same outage: the task failed
outright, and recording that failed too (the database was down), so the stale sweep later failed
the run as "its worker stopped" and queued the retrain again from scratch. Now that check retries
like the step does, every retry waits at least a few seconds, and the run completes after the
outage."""
import time

import pytest

from labeling.loop.triggers import request_retrain
from labeling.modeling.models import ModelVersion, TaskRun
from tests.db_outage import database_proxy, proxied_database_url
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop, wait_for_run
from tests.test_loop_helpers import build_project

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
OUTAGE_S = 6


@pytest.fixture
def worker_behind_proxy(project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    proxy = database_proxy()
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, DATABASE_URL=proxied_database_url(proxy))
    deadline = time.monotonic() + 40
    while "ready." not in log_path.read_text():
        assert time.monotonic() < deadline and worker.poll() is None, log_path.read_text()[-3000:]
        time.sleep(0.2)
    yield proxy, worker, log_path
    stop(worker)
    proxy.close()


def _ended_after_outage(run, worker, log_path):
    run = wait_for_run(run, [worker], [log_path], timeout=50)  # the stale cut-off (300 s) is far beyond this
    log = log_path.read_text()
    assert run.state == TaskRun.DONE, (run.message, log[-3000:])
    assert "worker stopped" not in run.message
    assert "Retry in 0s" not in log and "Retry in 1s" not in log and "Retry in" in log, log[-3000:]
    return run


def test_a_retrain_delivered_during_a_database_outage_runs_once_it_is_back(worker_behind_proxy, project_factory):
    proxy, worker, log_path = worker_behind_proxy
    project, _ = build_project(project_factory, slug="outage-first", n_items=300, n_labeled=60)
    with proxy.outage():
        run = request_retrain(project, reason="manual")  # this process's own connection is not cut
        deadline = time.monotonic() + OUTAGE_S
        while "run_retrain" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "run_retrain" in log_path.read_text(), "the worker never took the message"
        time.sleep(max(0.0, deadline - time.monotonic()))
    _ended_after_outage(run, worker, log_path)


def test_a_retrain_whose_training_step_meets_a_database_outage_completes(worker_behind_proxy, project_factory):
    proxy, worker, log_path = worker_behind_proxy
    project, _ = build_project(project_factory, slug="outage-train", n_items=300, n_labeled=60)
    run = request_retrain(project, reason="manual")
    deadline = time.monotonic() + 30
    while not ModelVersion.objects.filter(project=project).exists():  # train_model has started
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.02)
    with proxy.outage():
        time.sleep(OUTAGE_S)
    run = _ended_after_outage(run, worker, log_path)
    assert ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).exists(), run.message
