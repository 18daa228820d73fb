"""Write paths of the items app: imports (from a path, from an upload) and their progress."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from .analyze import analyze_tables
from .importer import ImportResult, Progress, run_import
from .models import ImportBatch, Item
from .signals import items_imported

# Share of the progress bar given to validation; writing (slower per row) gets the rest.
VALIDATE_SHARE = 0.4


class BatchProgress:
    """Writes an import's progress to its ImportBatch at most every half second. While rows are
    written the import holds a transaction, so progress goes through a second connection that
    commits on its own (PostgreSQL). SQLite allows one writer: there the bar jumps to the end."""

    def __init__(self, batch: ImportBatch, also: Progress | None = None):
        self.batch = batch
        self.also = also
        self.last = 0.0
        self.side = None

    def __call__(self, phase: str, fraction: float, counts: dict) -> None:
        if self.also:
            self.also(phase, fraction, counts)
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        if phase == "validate":
            value = VALIDATE_SHARE * fraction
            ImportBatch.objects.filter(id=self.batch.id).update(progress=value, rows_total=counts.get("rows_total", 0),
                                                                updated_at=timezone.now())
        elif connection.vendor != "sqlite":
            value = VALIDATE_SHARE + (1 - VALIDATE_SHARE) * fraction
            if self.side is None:
                self.side = connections.create_connection("default")
            table = self.side.ops.quote_name(ImportBatch._meta.db_table)
            with self.side.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET progress = %s, rows_imported = %s, updated_at = %s WHERE id = %s",
                               [value, counts.get("rows_imported", 0), timezone.now(), self.batch.id])

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def import_path(project, path, *, filename: str | None = None, skip_invalid: bool = False,
                rejects_path=None, batch: ImportBatch | None = None, created_by=None,
                progress: Progress | None = None, format: str | None = None) -> ImportResult:
    """Import a file from disk (command, task, demo). See labeling.items.importer.run_import."""
    if batch is None:
        batch = ImportBatch.objects.create(project=project, filename=filename or Path(path).name, created_by=created_by)
    reporter = BatchProgress(batch, progress)
    try:
        result = run_import(project, path, filename=filename or batch.filename, fmt=format, skip_invalid=skip_invalid,
                            rejects_path=rejects_path, batch=batch, progress=reporter)
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


def save_upload(project, uploaded_file, user) -> tuple[ImportBatch, Path]:
    """Record a pending ImportBatch and copy the upload (a temp file) to shared storage in chunks,
    where a worker can read it."""
    batch = ImportBatch.objects.create(project=project, filename=os.path.basename(uploaded_file.name)[:500], created_by=user)
    folder = upload_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch.id}-{_safe_name(uploaded_file.name)}"
    with open(path, "wb") as out:
        for chunk in uploaded_file.chunks():
            out.write(chunk)
    return batch, path


def reject_upload(project, filename: str, size: int, user, *, at_least: bool = False) -> ImportBatch:
    """An upload over the size limit is refused (its reading stopped at the limit, ``at_least``);
    the refusal is recorded."""
    batch = ImportBatch.objects.create(project=project, filename=os.path.basename(filename)[:500], created_by=user)
    limit = settings.LONGTAIL_MAX_UPLOAD_BYTES
    batch.state = ImportBatch.FAILED
    batch.progress = 1.0
    has = f"more than {limit:,} bytes" if at_least else f"{size:,} bytes"
    batch.errors = [{"file": batch.filename, "line": None, "field": None,
                     "message": f"the file has {has}, over the upload limit of {limit:,} bytes (LONGTAIL_MAX_UPLOAD_BYTES)"}]
    batch.save()
    return batch
