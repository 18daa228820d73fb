"""A worker killed mid-training (kill -9: no cleanup, its message stays unacknowledged in Redis)
does not stall the loop: a new worker finds the run's heartbeat stale, fails the run and its
training version, queues the retrain again, and the loop ends with the next wave open, within a
minute instead of Redis' visibility timeout."""
import os
import signal
import time

import pytest

from tests.db_outage import wait_for
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.worker
STALE = 6  # seconds without a heartbeat before a run counts as interrupted (test setting)


def test_loop_finishes_after_the_worker_is_killed_mid_training(transactional_db, project_factory, tmp_path,
                                                               settings):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.waves.models import Wave

    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    env = {"LONGTAIL_TASK_STALE_SECONDS": STALE, "LONGTAIL_TASK_HEARTBEAT_SECONDS": 1}
    # Big enough that training takes a while (self-training over the unlabeled rows included).
    project, _ = build_project(project_factory, slug="killed", n_items=6000, n_labeled=2500, wave_size=40)
    log_path = tmp_path / "worker.log"
    first = start_worker(log_path, **env)
    second = None
    try:
        run = request_retrain(project, reason="manual")
        version = wait_for(lambda: ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING).first(),
                        120, "training to start", log_path)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        run.refresh_from_db()
        version.refresh_from_db()
        assert run.state == TaskRun.RUNNING and version.state == ModelVersion.TRAINING, (
            "the worker must die mid-training for this test to mean anything", run.state, version.state)

        second = start_worker(log_path, **env)

        def loop_done():
            new = TaskRun.objects.filter(project=project, kind="retrain", detail__requeued_from=run.pk).first()
            if new is not None and new.state in (TaskRun.DONE, TaskRun.FAILED):
                return new
            return None

        new = wait_for(loop_done, 60, "the re-queued retrain to finish", log_path, step=0.5)
        elapsed = time.monotonic() - killed_at
        assert new.state == TaskRun.DONE, (new.message, log_path.read_text()[-3000:])
        assert elapsed < 60
        run.refresh_from_db()
        version.refresh_from_db()
        assert run.state == TaskRun.FAILED and "Interrupted" in run.message and f"task {new.pk}" in run.message
        assert version.state == ModelVersion.FAILED and "Interrupted" in version.error
        active = ModelVersion.objects.get(project=project, state=ModelVersion.ACTIVE)
        wave = Wave.objects.get(project=project, state=Wave.OPEN)
        assert wave.model_version_id == active.id and wave.size == 40
        assert new.detail["attempt"] == 2
        print(f"loop finished {elapsed:.1f} s after the kill")
    finally:
        stop(second)
        if first.poll() is None:
            first.kill()


def test_a_task_past_its_soft_time_limit_is_recorded_as_such(transactional_db, project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import ModelVersion, TaskRun

    # Large enough that training or planning takes over a second on any machine.
    project, _ = build_project(project_factory, slug="slow", n_items=15000, n_labeled=3000, wave_size=40)
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, pool="prefork", LONGTAIL_TASK_SOFT_TIME_LIMIT=1, LONGTAIL_TASK_TIME_LIMIT=30)
    try:
        run = request_retrain(project, reason="manual")
        run = wait_for(lambda: TaskRun.objects.filter(pk=run.pk, state__in=["done", "failed"]).first(), 150,
                    "the run to end", log_path, step=0.5)
    finally:
        stop(worker)
    assert run.state == TaskRun.FAILED, (run.message, log_path.read_text()[-3000:])
    assert "ran past the soft time limit of 1 s (LONGTAIL_TASK_SOFT_TIME_LIMIT)" in run.message, run.message
    assert not ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING).exists()
