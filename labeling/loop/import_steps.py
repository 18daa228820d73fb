"""The body of the upload import task (tasks.import_file, a thin wrapper kept there so the task's
registered name does not change): claim the batch, import the file, remove the upload.

The claim and the batch's read are the import's first queries. A message that arrives while the
database does not answer (a restart, a failover) used to fail there at once: the batch stayed
pending until the stale sweep failed it minutes later as if its worker never started it. Both are
now tried again while the database does not answer (config.database_retry, up to a minute), on
this delivery rather than by a task retry (the task has no autoretry): a retry is a new message,
one more for the broker to lose, and the upload stays in place for as long as a try may still need
it. The task is acks_late like every task (CELERY_TASK_ACKS_LATE, and requeued when its worker
process is lost): a delivery whose worker dies is handed out again, and the claim below makes that
delivery import nothing.

A claim whose commit reached the database but whose reply was lost with the connection is tried
again too, and finds the batch running: taken for another delivery's claim, this delivery imported
nothing and the stale sweep failed the batch minutes later. So the claim writes a token, the
claim's own heartbeat time (nothing else moves it before the import starts, and another delivery
writes its own), and a try that finds the batch running with that token knows the claim is its own.

The message names the upload and the rejects file relative to MEDIA_ROOT
(``triggers.start_upload_import``), and the worker reads them under its own MEDIA_ROOT: a worker
machine that mounts the shared media at another path, or a stack moved to another host while the
message waited in the broker, finds the file where its media folder holds it. A message queued by an
older release names absolute paths; one whose upload is not there (the old host's path) is read
from the batch's place under this host's MEDIA_ROOT instead (``upload_path_for``)."""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from config.database_retry import until_database_answers
from labeling.items.models import ImportBatch
from labeling.items.services import import_path, rejects_path_for, upload_path_for

log = logging.getLogger(__name__)


def import_upload(batch_id: int, path: str, skip_invalid: bool = False, rejects_path: str | None = None) -> dict:
    """Run an uploaded file's import; the upload is deleted afterwards (the rejects file stays).
    ``path`` and ``rejects_path`` are relative to MEDIA_ROOT (absolute in older messages: see the
    module's doc). A batch that is no longer pending (this message came again after its worker
    died) is left as it is. Past the retry window the error is raised with the batch still pending
    and the upload in place: the stale sweep fails that batch and removes its upload."""
    what = f"import batch {batch_id}"
    claimed_at = timezone.now()  # the claim's token: the same for every try of this delivery
    if not until_database_answers(lambda: claim_import(batch_id, claimed_at), what=f"{what} claim"):
        found = until_database_answers(
            lambda: ImportBatch.objects.select_related("project").filter(id=batch_id).first(), what=what)
        state = found.state if found is not None else None
        log.warning("import batch %s is %s, not pending: this delivery imports nothing", batch_id, state or "gone")
        upload = upload_on_this_host(path, found)
        if state != ImportBatch.RUNNING and upload.exists():
            upload.unlink()
        return {"batch": batch_id, "state": state, "rows_imported": 0, "labels_attached": 0, "rows_rejected": 0,
                "skipped": True}
    upload = upload_on_this_host(path, None)
    try:
        batch = until_database_answers(lambda: ImportBatch.objects.select_related("project").get(id=batch_id),
                                       what=what)
        upload = upload_on_this_host(path, batch)
        rejects = rejects_on_this_host(rejects_path, path, batch)
        # import_path keeps the batch's heartbeat itself, also while it waits for another import
        result = import_path(batch.project, upload, filename=batch.filename, skip_invalid=skip_invalid,
                             rejects_path=rejects, batch=batch)
    finally:
        if upload.exists():
            upload.unlink()
    return {"batch": batch_id, "state": result.batch.state, "rows_imported": result.rows_imported,
            "labels_attached": result.labels_attached, "rows_rejected": result.rows_rejected}


def _moved(path: str) -> bool:
    """An older message's absolute path that this host does not have (the stack moved, or this
    worker mounts the media elsewhere)."""
    return os.path.isabs(path) and not os.path.exists(path)


def upload_on_this_host(path: str, batch: ImportBatch | None) -> Path:
    """The upload a message names, on this host: under MEDIA_ROOT; an older message's absolute path
    as it is, or, where this host does not have it and the batch is known, the batch's upload
    under MEDIA_ROOT (the name the upload was stored under: ``save_upload``)."""
    if not os.path.isabs(path):
        return Path(settings.MEDIA_ROOT) / path
    if batch is not None and _moved(path):
        return upload_path_for(batch, batch.filename)
    return Path(path)


def rejects_on_this_host(rejects_path: str | None, path: str, batch: ImportBatch) -> Path | None:
    """Where the rejected rows go on this host (None: the upload did not ask for them). An older
    message's absolute path is kept where its upload was found there too, and rebuilt under
    MEDIA_ROOT with the upload otherwise: the page offers the file from ``rejects_path_for``."""
    if rejects_path is None:
        return None
    if not os.path.isabs(rejects_path):
        return Path(settings.MEDIA_ROOT) / rejects_path
    return rejects_path_for(batch) if _moved(path) else Path(rejects_path)


def claim_import(batch_id: int, claimed_at: datetime) -> bool:
    """Start an import only from ``pending``: a message the broker delivers again (its worker
    died) finds the batch running, failed by the stale-run rule, or done, and imports nothing.
    True also where the batch is running by this delivery's own earlier try (``claimed_at``
    written with it), whose reply the outage lost."""
    if ImportBatch.objects.filter(pk=batch_id, state=ImportBatch.PENDING).update(
            state=ImportBatch.RUNNING, updated_at=claimed_at):
        return True
    return ImportBatch.objects.filter(pk=batch_id, state=ImportBatch.RUNNING, updated_at=claimed_at).exists()
