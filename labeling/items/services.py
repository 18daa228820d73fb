"""Write paths of the items app: imports (from a path, from an upload), their progress and heartbeat."""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from .analyze import analyze_tables
from .importer import ImportResult, Progress, run_import
from .models import ImportBatch, Item
from .signals import items_imported

logger = logging.getLogger(__name__)

# Share of the progress bar given to validation; writing (slower per row) gets the rest.
VALIDATE_SHARE = 0.4


class BatchProgress:
    """Writes an import's progress to its ImportBatch at most every half second. While rows are
    written the import holds a transaction, so progress goes through a second connection that
    commits on its own (PostgreSQL). SQLite allows one writer: there the bar jumps to the end.
    Only a running batch is written: one failed meanwhile keeps the counts its failure set."""

    def __init__(self, batch: ImportBatch, also: Progress | None = None):
        self.batch = batch
        self.also = also
        self.last = 0.0
        self.side = None

    def __call__(self, phase: str, fraction: float, counts: dict) -> None:
        if self.also:
            self.also(phase, fraction, counts)
        if phase == "wait":  # said on the batch already (ImportBatch.waiting)
            return
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        if phase == "validate":
            value = VALIDATE_SHARE * fraction
            ImportBatch.objects.filter(id=self.batch.id, state=ImportBatch.RUNNING).update(
                progress=value, rows_total=counts.get("rows_total", 0), updated_at=timezone.now())
        elif connection.vendor != "sqlite":
            value = VALIDATE_SHARE + (1 - VALIDATE_SHARE) * fraction
            if self.side is None:
                self.side = connections.create_connection("default")
            table = self.side.ops.quote_name(ImportBatch._meta.db_table)
            with self.side.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET progress = %s, rows_imported = %s, updated_at = %s "
                               "WHERE id = %s AND state = %s",
                               [value, counts.get("rows_imported", 0), timezone.now(), self.batch.id, ImportBatch.RUNNING])

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


@contextmanager
def beating(name: str, touch):
    """While the block runs, a thread calls ``touch()`` (one UPDATE of a heartbeat column) every
    LONGTAIL_TASK_HEARTBEAT_SECONDS, on its own database connection: the imports' heartbeat, and
    the background runs' (labeling.loop.runs.heartbeat)."""
    stop = threading.Event()

    def beat():
        # One failed beat (a dropped connection, a restarting database) must neither break the task
        # nor stop the beats that follow: a task still working with no heartbeat would be taken
        # for dead, failed and queued again while it goes on.
        try:
            while not stop.wait(float(settings.LONGTAIL_TASK_HEARTBEAT_SECONDS)):
                try:
                    touch()
                except Exception:  # noqa: BLE001
                    logger.warning("%s missed a beat; trying again at the next one", name, exc_info=True)
                    connection.close()  # the next beat opens a fresh connection
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


@contextmanager
def import_heartbeat(batch_id: int):
    """While the block runs, the import's batch heartbeat moves, also while it waits for another
    import of its project and through a slow step that reports no progress: the stale-import sweep
    (labeling.loop.runs.expire_stale_imports) fails only an import whose process is gone. Not on
    SQLite (the demo, imports in the web process): it takes one writer at a time, and the beat's
    UPDATE against the import's open write transaction made SQLite refuse the import ("database is
    locked"); the sweep leaves SQLite's running imports alone."""
    if connection.vendor == "sqlite":
        yield
        return
    with beating(f"import-heartbeat-{batch_id}", lambda: ImportBatch.objects.filter(
            pk=batch_id, state=ImportBatch.RUNNING).update(updated_at=timezone.now())):
        yield


def import_path(project, path, *, filename: str | None = None, skip_invalid: bool = False,
                rejects_path=None, batch: ImportBatch | None = None, created_by=None,
                progress: Progress | None = None, format: str | None = None) -> ImportResult:
    """Import a file from disk (command, task, demo) with its batch's heartbeat beating from start to
    end. See labeling.items.importer.run_import."""
    if batch is None:
        batch = ImportBatch.objects.create(project=project, filename=filename or Path(path).name, created_by=created_by)
    reporter = BatchProgress(batch, progress)
    try:
        with import_heartbeat(batch.id):
            result = run_import(project, path, filename=filename or batch.filename, fmt=format,
                                skip_invalid=skip_invalid, rejects_path=rejects_path, batch=batch, progress=reporter)
    finally:
        reporter.close()
    if result.ok:
        transaction.on_commit(lambda: analyze_tables(Item))
        transaction.on_commit(lambda: items_imported.send(sender=ImportBatch, project=project, batch=batch))
    return result


def upload_dir(project) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / project.slug


def _safe_name(name: str) -> str:
    base = os.path.basename(name or "upload")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:100] or "upload"


def rejects_path_for(batch: ImportBatch) -> Path:
    return upload_dir(batch.project) / f"{batch.id}-rejects.csv"


def upload_path_for(batch: ImportBatch, name: str) -> Path:
    """Where an upload waits for its import: ``<id>-<name>.upload``. It always ends in ``.upload``
    and the rejects file in ``-rejects.csv``, so no upload name gives the rejects file's path (an
    upload named rejects.csv once was its own rejects file: writing the rejects emptied it). The
    importer takes the format from the original name, not from this one."""
    return upload_dir(batch.project) / f"{batch.id}-{_safe_name(name)}.upload"


class UploadNotStored(Exception):
    """The upload could not be copied to shared storage (folder missing or not writable, disk
    full). Its batch is already failed with ``message``; ``disk_full`` tells a full disk or quota
    (HTTP 507) from a storage that cannot be written at all (503)."""

    def __init__(self, batch: ImportBatch, message: str, *, disk_full: bool):
        super().__init__(message)
        self.batch = batch
        self.message = message
        self.disk_full = disk_full


def save_upload(project, uploaded_file, user) -> tuple[ImportBatch, Path]:
    """Record a pending ImportBatch and copy the upload (a temp file) to shared storage in chunks,
    where a worker can read it. When the copy fails the batch ends failed with the cause (never
    left pending for the stale-import sweep to blame on the worker), the partial copy is removed
    and UploadNotStored is raised."""
    batch = ImportBatch.objects.create(project=project, filename=os.path.basename(uploaded_file.name)[:500], created_by=user)
    path = upload_path_for(batch, uploaded_file.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for chunk in uploaded_file.chunks():
                out.write(chunk)
    except OSError as exc:
        logger.exception("the upload of import %s into project %s could not be stored at %s", batch.id, project.slug, path)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        # The cause without the server's paths (those are in the log).
        message = (f"the upload could not be stored on the server ({exc.strerror or type(exc).__name__}, in "
                   f"MEDIA_ROOT/imports/{project.slug}/), so nothing was imported. Ask the administrator to fix the "
                   "storage, then upload the file again.")
        _fail_batch(batch, message)
        raise UploadNotStored(batch, message, disk_full=exc.errno in (errno.ENOSPC, errno.EDQUOT)) from exc
    return batch, path


def reject_upload(project, filename: str, size: int, user, *, at_least: bool = False) -> ImportBatch:
    """An upload over the size limit is refused (its reading stopped at the limit, ``at_least``);
    the refusal is recorded as an import that has ended."""
    batch = ImportBatch.objects.create(project=project, filename=os.path.basename(filename)[:500], created_by=user)
    limit = settings.LONGTAIL_MAX_UPLOAD_BYTES
    has = f"more than {limit:,} bytes" if at_least else f"{size:,} bytes"
    _fail_batch(batch, f"the file has {has}, over the upload limit of {limit:,} bytes (LONGTAIL_MAX_UPLOAD_BYTES)")
    return batch


def _fail_batch(batch: ImportBatch, message: str) -> None:
    """End a batch that never reached the importer: failed, finished now, the reason as a file-level error."""
    batch.state = ImportBatch.FAILED
    batch.progress = 1.0
    batch.finished_at = batch.updated_at = timezone.now()
    batch.errors = [{"file": batch.filename, "line": None, "field": None, "message": message}]
    batch.save()
