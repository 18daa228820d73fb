"""An import whose worker is killed mid-write (kill -9: no cleanup, its message unacknowledged in
Redis) does not stay ``running``: a new worker finds the batch's heartbeat stale and fails it with
a message that says what happened, nothing of the file is in the project, and the upload left
behind is removed. A message delivered again later imports nothing."""
import os
import signal
import time

import pytest

from labeling.items.models import ImportBatch, Item
from labeling.items.services import VALIDATE_SHARE, upload_dir
from labeling.loop import tasks
from labeling.loop.triggers import start_upload_import
from tests.db_outage import wait_for
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop

pytestmark = pytest.mark.worker
STALE = 5  # seconds without a heartbeat before a running import counts as interrupted (test setting)
ROWS = 60_000  # enough that writing takes several seconds on any machine


def test_killed_import_ends_failed_with_nothing_written(transactional_db, project_factory, tmp_path, settings):
    require_redis()
    require_postgres()
    fresh_broker()
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    env = {"LONGTAIL_TASK_STALE_SECONDS": STALE, "LONGTAIL_TASK_HEARTBEAT_SECONDS": 1}
    project = project_factory(slug="killed-import")
    batch = ImportBatch.objects.create(project=project, filename="big.csv")
    folder = upload_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch.pk}-big.csv"
    with open(path, "w") as f:
        f.write("text,source,external_id\n")
        for i in range(ROWS):
            f.write(f"ticket {i} about order {i * 7919 % 100003} and card {i % 977},email,E{i}\n")

    log_path = tmp_path / "worker.log"
    first = start_worker(log_path, **env)
    second = None
    try:
        start_upload_import(batch, path, skip_invalid=False)  # no outer transaction: sent at once
        wait_for(lambda: ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.RUNNING,
                                                 progress__gt=VALIDATE_SHARE + 0.05).exists(),
              120, "the import to be writing", log_path)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        batch.refresh_from_db()
        assert batch.state == ImportBatch.RUNNING, "the worker must die mid-import for this test to mean anything"

        second = start_worker(log_path, **env)
        wait_for(lambda: ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.FAILED).exists(),
              60, "the interrupted import to be failed", log_path, step=0.2)
        took = time.monotonic() - killed_at
    finally:
        stop(first)
        stop(second)
    batch.refresh_from_db()
    assert took < 60, took
    message = batch.errors[0]["message"]
    assert message.startswith("Interrupted: the import's worker stopped"), message
    assert "Nothing of this file was imported; upload it again." in message
    assert batch.rows_imported == 0 and batch.progress == 1.0 and batch.finished_at is not None
    assert not Item.objects.filter(project=project).exists()  # the write's transaction died with the worker
    assert not path.exists()

    # The broker may hand the killed worker's message out again: it finds the batch failed.
    path.write_text("text\nA late copy of the upload\n")
    out = tasks.import_file.run(batch.pk, str(path))
    assert out["skipped"] is True and out["state"] == ImportBatch.FAILED
    assert not Item.objects.filter(project=project).exists()
    assert not path.exists()
