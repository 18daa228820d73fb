"""The body of the upload import task (tasks.import_file, a thin wrapper kept there so the task's
registered name does not change): claim the batch, import the file, remove the upload.

The claim and the batch's read are the import's first queries. A message that arrives while the
database does not answer (a restart, a failover) used to fail there at once: the batch stayed
pending until the stale sweep failed it minutes later as if its worker never started it. Both are
now tried again while the database does not answer (config.database_retry, up to a minute), on
this delivery: the task is not acks_late, so a task retry would be one more message to lose, and
the upload stays in place for as long as a try may still need it."""
from __future__ import annotations

import logging
import os

from config.database_retry import until_database_answers
from labeling.items.models import ImportBatch
from labeling.items.services import import_path

from . import runs

log = logging.getLogger(__name__)


def import_upload(batch_id: int, path: str, skip_invalid: bool = False, rejects_path: str | None = None) -> dict:
    """Run an uploaded file's import; the upload is deleted afterwards (the rejects file stays).
    A batch that is no longer pending (this message came again after its worker died) is left
    as it is. Past the retry window the error is raised with the batch still pending and the
    upload in place: the stale sweep fails that batch and removes its upload."""
    what = f"import batch {batch_id}"
    if not until_database_answers(lambda: runs.claim_import(batch_id), what=f"{what} claim"):
        state = until_database_answers(
            lambda: ImportBatch.objects.filter(id=batch_id).values_list("state", flat=True).first(), what=what)
        log.warning("import batch %s is %s, not pending: this delivery imports nothing", batch_id, state or "gone")
        if state != ImportBatch.RUNNING and os.path.exists(path):
            os.remove(path)
        return {"batch": batch_id, "state": state, "rows_imported": 0, "rows_rejected": 0, "skipped": True}
    try:
        batch = until_database_answers(lambda: ImportBatch.objects.select_related("project").get(id=batch_id),
                                       what=what)
        # import_path keeps the batch's heartbeat itself, also while it waits for another import
        result = import_path(batch.project, path, filename=batch.filename, skip_invalid=skip_invalid,
                             rejects_path=rejects_path, batch=batch)
    finally:
        if os.path.exists(path):
            os.remove(path)
    return {"batch": batch_id, "state": result.batch.state, "rows_imported": result.rows_imported,
            "rows_rejected": result.rows_rejected}
