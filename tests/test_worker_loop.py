"""A real Celery worker over Redis runs the retrain pipeline against the test database:
embed → train → score (chord) → plan. Two concurrent retrain requests lead to one training."""
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tests.service_processes import stop, wait_for_run
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.worker
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    from django.db import connection

    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set: the worker test needs a Redis broker (set in CI)")
    if connection.vendor != "postgresql":
        pytest.skip("the worker test needs DATABASE_URL=postgres://… (a second process cannot share "
                    "pytest's SQLite test database)")
    from config.celery import app

    assert not app.conf.task_always_eager, "REDIS_URL is set, so tasks must go through the broker"
    settings_dict = connection.settings_dict
    db_url = (f"postgres://{settings_dict['USER'] or 'postgres'}"
              f"{':' + settings_dict['PASSWORD'] if settings_dict.get('PASSWORD') else ''}"
              f"@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}")
    env = {**os.environ, "DATABASE_URL": db_url, "DB_CONN_MAX_AGE": "0", "HF_HUB_OFFLINE": "1",
           "CELERY_TASK_ALWAYS_EAGER": "0"}
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")
    name = f"looptest-{uuid.uuid4().hex[:8]}@%h"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "default,embed,train",
         "-P", "solo", "-c", "1", "-l", "info", "-n", name, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield proc, log_path
    stop(proc)
    log.close()


def test_worker_runs_the_retrain_pipeline_once(celery_worker_process, project_factory):
    from django.db import connection

    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import ItemScore, ModelVersion, TaskRun
    from labeling.waves.models import Wave

    proc, log_path = celery_worker_process
    project, _ = build_project(project_factory, slug="worker", wave_size=50)

    runs, errors = [], []
    barrier = threading.Barrier(2)

    def ask(reason):
        try:
            barrier.wait(timeout=10)
            runs.append(request_retrain(project, reason=reason))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(reason,)) for reason in ("manual", "wave_complete")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(runs) == 2 and runs[0].pk == runs[1].pk, "two concurrent requests must share one run"
    run = wait_for_run(TaskRun.objects.get(pk=runs[0].pk), [proc], [log_path], timeout=75)
    assert run.state == "done", (run.message, log_path.read_text()[-3000:])
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 1
    versions = list(ModelVersion.objects.filter(project=project))
    assert len(versions) == 1 and versions[0].state == ModelVersion.ACTIVE
    assert ItemScore.objects.filter(model_version=versions[0]).count() == 300
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    assert wave.model_version_id == versions[0].id and wave.size == 50
    assert "labeling.loop.tasks.score_chunk" in log_path.read_text()
