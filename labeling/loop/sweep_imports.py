"""The stale-import rule: which upload imports (ImportBatch rows) will never finish, failed with
the reason. Beside the stale-run rule (labeling.loop.runs, which re-exports it) and asked by the
same callers: the workers' periodic sweep, an upload, a project's deletion.

An upload's import is one task message, sent once (labeling.loop.triggers.start_upload_import).
Its id is the batch's own (``import_message_id``): nothing has to be stored for the sweep to ask
the broker about it, as a run's first task id is stored on the run. Before, a batch whose message
Redis lost (restarted without its data, flushed, failed over to an empty replica) stayed pending
until the cut-off plus the visibility timeout (2,520 s by default), while a run lost the same way
was failed as lost within the cut-off. The message is not sent again: the batch does not record
how its file was to be imported (skipping invalid rows or not), so the lead is asked to upload the
file again.
"""
from __future__ import annotations

from django.db import connection
from django.utils import timezone

from labeling.items.models import ImportBatch
from labeling.items.services import upload_dir

from .cutoffs import pending_stale_after, stale_after
from .stale_rule import LOST, Unstarted, verdicts

IMPORT_MESSAGE_ID = "longtail-import-{id}"
AGAIN = "Nothing of this file was imported; upload it again."


def import_message_id(batch_id: int) -> str:
    """The id of the task message that imports the batch (one per batch, never sent twice)."""
    return IMPORT_MESSAGE_ID.format(id=batch_id)


def expire_stale_imports(*, ask_broker: bool = False) -> list[ImportBatch]:
    """Fail the imports that will never finish: running with no heartbeat for
    LONGTAIL_TASK_STALE_SECONDS (its worker died); pending past that cut-off whose message the
    broker no longer holds, whatever its age while it does (the workers' sweep asks, with
    ``ask_broker``, reading the queues; a web request leaves it to the sweep); pending past the
    cut-off plus the visibility timeout only where the broker cannot be asked (labeling.loop.
    stale_rule). A live import, a worker's or ``import_items``', beats from start to end, also
    while it waits for another import of its project (services.import_path). Its rows are written
    in one transaction that also ends the batch DONE, only while it is still running: the
    transaction died with the worker, or one still going finds its batch failed and writes
    nothing, so nothing of the file is in the project. The upload left behind is removed."""
    now = timezone.now()
    cut_off, pending_cut_off = int(stale_after().total_seconds()), int(pending_stale_after().total_seconds())
    reasons = {}
    # SQLite imports run without a heartbeat (items.services.import_heartbeat): only pending ones go stale there.
    if connection.vendor != "sqlite":
        for batch in ImportBatch.objects.filter(state=ImportBatch.RUNNING, updated_at__lt=now - stale_after()):
            reasons[batch.pk] = (batch, "Interrupted: the import's worker stopped (no heartbeat for {s} s; the "
                                        f"cut-off is {cut_off} s). {AGAIN}")
    pending = {batch.pk: batch for batch in ImportBatch.objects.filter(state=ImportBatch.PENDING,
                                                                         updated_at__lt=now - stale_after())}
    unstarted = [Unstarted(batch.pk, batch.updated_at, sent=(import_message_id(batch.pk),)) for batch in pending.values()]
    # one read of the queues for every pending batch
    for pk, verdict in verdicts(unstarted, now=now, ask_broker=ask_broker).items():
        reasons[pk] = (pending[pk], (
            "Lost: queued {s} s ago, its task message is no longer with the broker (Redis restarted without its "
            f"data?), so nothing would ever import it. {AGAIN}") if verdict == LOST else (
            "Interrupted: no worker started the import: it was queued {s} s ago, past the cut-off of "
            f"{pending_cut_off} s for a message to come back from a worker that died (LONGTAIL_TASK_STALE_SECONDS + "
            f"LONGTAIL_BROKER_VISIBILITY_TIMEOUT), and the broker could not be asked whether it still holds it. {AGAIN}"))
    failed = []
    for batch, reason in reasons.values():
        message = reason.format(s=int((now - batch.updated_at).total_seconds()))
        # Conditional UPDATE: a batch that moved meanwhile (claimed, beating) is left alone.
        errors = [{"file": batch.filename, "line": None, "field": None, "message": message}]
        if ImportBatch.objects.filter(pk=batch.pk, state=batch.state, updated_at=batch.updated_at).update(
                state=ImportBatch.FAILED, progress=1.0, rows_imported=0, finished_at=now, updated_at=now, errors=errors):
            batch.state, batch.errors = ImportBatch.FAILED, errors
            failed.append(batch)
            for upload in upload_dir(batch.project).glob(f"{batch.pk}-*"):
                if not upload.name.endswith("-rejects.csv"):
                    upload.unlink(missing_ok=True)
    return failed
