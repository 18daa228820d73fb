"""An upload import whose message arrives while PostgreSQL does not answer: a real Celery worker
reaches the test database through a proxy (tests/db_outage.py) that the test cuts before the
message is sent; the shared server runs on, and the test process queues the import on its own
connection.

Before, the task's first query, the batch's claim, failed at once: the task ended in error, the
batch stayed pending until the stale sweep failed it minutes later as "the import's worker never
started it" (false), and the file was never imported. Now the claim is tried again while the
database does not answer, and the import runs as soon as it is back."""
import time

import pytest

from labeling.items.models import ImportBatch, Item
from labeling.loop.triggers import start_upload_import
from tests.db_outage import database_proxy, proxied_database_url, upload_waiting, wait_for
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROWS = 50
OUTAGE_S = 4



def test_an_import_queued_during_a_database_outage_runs_once_it_is_back(project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    project = project_factory(slug="outage-import-claim")
    batch, path = upload_waiting(project, "small.csv", (
        f"question {i} about parcel {i * 7919 % 100003},email,C{i}\n" for i in range(ROWS)))

    proxy = database_proxy()
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, DATABASE_URL=proxied_database_url(proxy))
    try:
        wait_for(lambda: "ready." in log_path.read_text(), 40, "the worker to start", log_path, step=0.2)
        with proxy.outage():
            start_upload_import(batch, path, skip_invalid=False)  # this process's connection is not cut
            wait_for(lambda: "import_file" in log_path.read_text(), 30, "the worker to take the message", log_path)
            time.sleep(OUTAGE_S)
            # still waiting for the database, the upload kept for the try that will need it
            assert ImportBatch.objects.get(pk=batch.pk).state == ImportBatch.PENDING
            assert path.exists()
        back = time.monotonic()
        batch = wait_for(lambda: ImportBatch.objects.filter(pk=batch.pk, state__in=[ImportBatch.DONE, ImportBatch.FAILED])
                      .first(), 60, "the import to end", log_path, step=0.2)
        ended_after = time.monotonic() - back
        log = log_path.read_text()
        assert batch.state == ImportBatch.DONE, (batch.state, batch.errors, log[-3000:])
        assert batch.rows_imported == ROWS and batch.finished_at is not None
        assert Item.objects.filter(project=project).count() == ROWS
        assert ended_after < 60, ended_after  # the stale sweep's pending cut-off is minutes beyond this (300 s)
        assert "the database did not answer" in log, log[-3000:]  # the claim met the outage
        # The task removes the upload after it recorded the outcome (its last step): a moment after it.
        wait_for(lambda: not path.exists(), 10, "the upload to be removed", log_path)
    finally:
        stop(worker)
        proxy.close()
