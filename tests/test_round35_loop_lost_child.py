"""A worker's pool process that dies while it runs a step (SIGABRT here) gets its message delivered
again; that delivery waits out the dead process's claim, and a soft time limit shorter than the wait
fired inside it, before the step's own error handling. Nothing recorded the error: the run stayed
running, its version training, until the stale sweep failed it minutes later as "its worker stopped"
(and queued it again into the same limit). An error no step caught now ends its run at once, with
what it was (labeling.loop.executions.ClaimedTask.on_failure)."""
import os
import signal
import subprocess
import time

import pytest

from labeling.loop.triggers import request_retrain
from labeling.modeling.models import ModelVersion, TaskRun
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.worker


def _children(pid):
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def test_a_step_whose_process_died_ends_its_run_when_the_redelivery_fails(transactional_db, project_factory,
                                                                          tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    project, _ = build_project(project_factory, slug="lostchild", n_items=15000, n_labeled=3000, wave_size=40)
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, pool="prefork", LONGTAIL_TASK_SOFT_TIME_LIMIT=5, LONGTAIL_TASK_TIME_LIMIT=30)
    try:
        run = request_retrain(project, reason="manual")
        deadline = time.monotonic() + 120
        while not ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING).exists():
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.02)
        os.kill(_children(worker.pid)[0], signal.SIGABRT)  # the pool process running train_model
        deadline = time.monotonic() + 60  # the stale cut-off (300 s) is far beyond this
        while TaskRun.objects.get(pk=run.pk).state not in (TaskRun.DONE, TaskRun.FAILED):
            assert time.monotonic() < deadline, f"the run is still open; worker log:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.5)
        run = TaskRun.objects.get(pk=run.pk)
        assert run.state == TaskRun.FAILED, run.message
        assert "soft time limit" in run.message and "worker stopped" not in run.message, run.message
        assert not ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING).exists()
    finally:
        stop(worker)
