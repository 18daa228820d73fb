"""An upload import whose claim reached the database, but whose reply was lost with the connection:
a real Celery worker reaches the test database through a proxy (tests/db_outage.py) that passes the
claim's UPDATE to PostgreSQL, waits for PostgreSQL's answer (sent once the statement committed), and
drops that answer with the connection. The worker sees a broken connection and tries the claim
again (config.database_retry) on a new one.

Before, that try found the batch running (by its own first try), took it for another delivery's
claim and imported nothing; the batch stayed running without a heartbeat until the stale sweep
failed it ("the import's worker stopped"), and the file was never imported. Now the claim's token
(its heartbeat time, written with it) tells the try the claim is its own, and the import runs."""
import socket
import threading

import pytest
from django.db import connection

from labeling.items.models import ImportBatch, Item
from labeling.loop.triggers import start_upload_import
from tests.db_outage import OutageProxy, _close, proxied_database_url, upload_waiting, wait_for
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROWS = 40
CLAIM = b'UPDATE "items_importbatch" SET "state"'  # the claim is the worker's first such write
READY_FOR_QUERY = b"Z\x00\x00\x00\x05"  # PostgreSQL's last message of an answer: the statement is done


class ClaimReplyLosingProxy(OutageProxy):
    """Passes everything, except that the answer to the first claim is dropped with its connection."""

    def __init__(self, target_port: int):
        self.claim_reply_dropped = threading.Event()
        self._claiming: set[socket.socket] = set()
        self._first_claim_seen = False
        super().__init__(target_port)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            from_server = source.getpeername() == self.target
        except OSError:
            from_server = False
        if not from_server:
            return self._pipe_to_server(source, sink)
        answer = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if sink in self._claiming:  # the claim's answer: kept from the worker
                    answer += data
                    if READY_FOR_QUERY in answer:
                        self.claim_reply_dropped.set()
                        break
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)

    def _pipe_to_server(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    if CLAIM in data and not self._first_claim_seen:
                        self._first_claim_seen = True
                        self._claiming.add(source)  # before PostgreSQL can answer
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def test_a_claim_whose_reply_was_lost_imports_on_the_retry(project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    project = project_factory(slug="claim-reply-lost")
    batch, path = upload_waiting(project, "small.csv", (
        f"question {i} about parcel {i * 7919 % 100003},email,C{i}\n" for i in range(ROWS)))

    proxy = ClaimReplyLosingProxy(int(connection.settings_dict["PORT"] or 5432))
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, DATABASE_URL=proxied_database_url(proxy))
    try:
        wait_for(lambda: "ready." in log_path.read_text(), 40, "the worker to start", log_path, step=0.2)
        start_upload_import(batch, path, skip_invalid=False)  # this process's connection is not proxied
        wait_for(proxy.claim_reply_dropped.is_set, 30, "the claim's answer to be dropped", log_path)
        batch = wait_for(lambda: ImportBatch.objects.filter(pk=batch.pk, state__in=[ImportBatch.DONE, ImportBatch.FAILED])
                         .first(), 30, "the import to end", log_path, step=0.2)
        log = log_path.read_text()
        assert "claim: the database did not answer" in log, log[-3000:]  # the claim was tried again
        assert "not pending: this delivery imports nothing" not in log, log[-3000:]
        assert batch.state == ImportBatch.DONE, (batch.state, batch.errors, log[-3000:])
        assert batch.rows_imported == ROWS
        assert Item.objects.filter(project=project).count() == ROWS
        wait_for(lambda: not path.exists(), 10, "the upload to be removed", log_path)
    finally:
        stop(worker)
        proxy.close()
