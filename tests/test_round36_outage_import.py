"""An import cut off by a short PostgreSQL outage: a real Celery worker reaches the test database
through a proxy (tests/db_outage.py) that the test cuts while the rows are written; the shared
server runs on.

Before, the write's rollback was right (nothing of the file in the project) but recording the
failure met the same outage and gave up: the batch stayed "running" for about five minutes, then
the stale sweep failed it as "the import's worker stopped" (false), and the upload was gone. Now
the final state write is tried again while the database does not answer (up to a minute), and the
batch ends failed with the real reason as soon as the database is back."""
import time

import pytest

from labeling.items.models import ImportBatch, Item
from labeling.items.services import VALIDATE_SHARE
from labeling.loop.triggers import start_upload_import
from tests.db_outage import database_proxy, proxied_database_url, upload_waiting, wait_for
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROWS = 40_000  # writing takes several seconds, so the cut lands mid-write
OUTAGE_S = 5



def test_an_import_cut_off_by_a_database_outage_fails_with_that_reason_once_it_is_back(project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    project = project_factory(slug="outage-import")
    batch, path = upload_waiting(project, "big.csv", (
        f"ticket {i} about order {i * 7919 % 100003} and card {i % 977},email,E{i}\n" for i in range(ROWS)))

    proxy = database_proxy()
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, DATABASE_URL=proxied_database_url(proxy))
    try:
        start_upload_import(batch, path, skip_invalid=False)  # no outer transaction: sent at once
        wait_for(lambda: ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.RUNNING,
                                                 progress__gt=VALIDATE_SHARE + 0.02).exists(),
              60, "the import to be writing", log_path)
        with proxy.outage():
            time.sleep(OUTAGE_S)
        back = time.monotonic()
        batch = wait_for(lambda: ImportBatch.objects.filter(pk=batch.pk).exclude(state=ImportBatch.RUNNING).first(),
                      40, "the import to end", log_path, step=0.2)
        ended_after = time.monotonic() - back
        assert batch.state == ImportBatch.FAILED, (batch.state, batch.errors)
        message = batch.errors[0]["message"]
        assert "the database stopped answering" in message and "nothing was imported" in message, message
        assert "upload the file again" in message and "worker stopped" not in message, message
        assert batch.rows_imported == 0 and batch.progress == 1.0 and batch.finished_at is not None
        assert ended_after < 30, ended_after  # the stale sweep's cut-off (300 s) is far beyond this
        assert not Item.objects.filter(project=project).exists()  # the write was rolled back whole
        # The task removes the upload after it recorded the outcome (its last step): a moment after it.
        wait_for(lambda: not path.exists(), 10, "the upload to be removed", log_path)
    finally:
        stop(worker)
        proxy.close()
