"""Workers run below the web processes' CPU priority (LONGTAIL_WORKER_NICE), so that a retrain on
a shared host does not slow annotators' answers; the pool's processes inherit it."""
import os
import subprocess
import sys
import time

import pytest

from tests.service_processes import ROOT, fresh_broker, require_postgres, require_redis, service_env, start_worker, stop

pytestmark = pytest.mark.worker


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_worker_processes_run_at_the_configured_lower_priority(transactional_db, tmp_path, pool):
    require_redis()
    require_postgres()
    fresh_broker()
    base = os.nice(0)  # the test may itself run niced: the worker only ever lowers its priority
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, pool=pool, LONGTAIL_WORKER_NICE=7)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "ready." not in log_path.read_text():
            assert worker.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert "ready." in log_path.read_text(), log_path.read_text()[-3000:]
        processes = [worker.pid] + (_children(worker.pid) if pool == "prefork" else [])
        assert len(processes) >= (2 if pool == "prefork" else 1), processes
        for pid in processes:
            assert os.getpriority(os.PRIO_PROCESS, pid) == max(base, 7), (pool, pid)
    finally:
        stop(worker)


def test_a_nice_value_outside_0_to_19_is_refused_at_start(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                          "'config.settings'); django.setup()"], cwd=ROOT, capture_output=True, text=True,
                         env={k: v for k, v in service_env(LONGTAIL_WORKER_NICE=25).items() if k != "DATABASE_URL"})
    assert out.returncode != 0
    assert "LONGTAIL_WORKER_NICE must be between 0 and 19, got 25" in out.stderr
