"""A healthy worker busy with another project's import embedding (many chunks on the embed queue)
does not get a retrain failed as interrupted: between its steps the retrain's next messages wait
behind the chunks with nothing beating its heartbeat, and the workers' stale-run sweep, asking the
broker, finds them waiting (labeling.loop.runs.expire_stale_runs). Before, with a cut-off shorter
than the wait, the retrain was failed "its worker stopped", queued again, failed again, and left
failed with no next wave. A real Celery worker (solo pool) with a 2 s cut-off."""
import re
import time
from datetime import datetime

import pytest

from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop, wait_for_run
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.worker
STALE = 2  # seconds; the sweep looks every second (a third of the cut-off, at least 1 s)


def _logged_at(log: str, task: str, event: str) -> datetime:
    found = re.search(rf"^\[([0-9-]+ [0-9:,]+): INFO/MainProcess\] Task labeling\.loop\.tasks\.{task}\[[^]]+\] {event}",
                      log, re.M)
    assert found, f"no {task} {event} in the worker log"
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")


def _add_unembedded(project, n, tag):
    from labeling.items.models import Item
    from learner.text import text_hash

    texts = [f"{tag} unembedded ticket number {i} about something" for i in range(n)]
    Item.objects.bulk_create([Item(project=project, text=t, text_hash=text_hash(t)) for t in texts])


def test_a_retrain_waiting_behind_a_busy_embed_queue_is_not_failed(transactional_db, project_factory, tmp_path):
    require_postgres()
    require_redis()
    fresh_broker()
    from labeling.loop.triggers import request_embedding, request_retrain
    from labeling.modeling.models import TaskRun
    from labeling.waves.models import Wave

    busy, _ = build_project(project_factory, slug="big-import", n_items=40, n_labeled=12)
    other, _ = build_project(project_factory, slug="other", n_items=40, n_labeled=12)
    _add_unembedded(busy, 500, "alpha")
    _add_unembedded(other, 2, "beta")
    log = tmp_path / "worker.log"
    worker = start_worker(log, LONGTAIL_EMBED_CHUNK=1, LONGTAIL_TASK_STALE_SECONDS=STALE,
                          LONGTAIL_TASK_HEARTBEAT_SECONDS=0.5, LONGTAIL_TASK_MAX_REQUEUES=0)
    try:
        embedding = request_embedding(busy)  # an import's embedding: 500 one-item chunks
        deadline = time.monotonic() + 60
        while embedding.state != TaskRun.RUNNING and time.monotonic() < deadline:
            time.sleep(0.1)
            embedding.refresh_from_db()
        run = request_retrain(other)  # its embedding chunks queue behind those
        wait_for_run(run, [worker], [log], timeout=120)
    finally:
        stop(worker)
    assert run.state == TaskRun.DONE, (run.message, log.read_text()[-3000:])
    # From its first step to train_model only its two chunks beat, behind the other project's
    waited = (_logged_at(log.read_text(), "train_model", "received")
              - _logged_at(log.read_text(), "run_retrain", "succeeded")).total_seconds()
    assert waited > STALE + 2, f"the retrain waited {waited:.1f} s: not past the cut-off, the test means nothing"
    assert list(TaskRun.objects.filter(project=other, kind="retrain").values_list("pk", flat=True)) == [run.pk]
    assert Wave.objects.filter(project=other, state=Wave.OPEN).exists()
    assert "queued TaskRun" not in log.read_text()  # the sweep queued nothing again
