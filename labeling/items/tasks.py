"""Celery tasks of the items app (queue: default)."""
import os

from celery import shared_task

from .models import ImportBatch


@shared_task(name="labeling.items.tasks.import_file")
def import_file(batch_id: int, path: str, skip_invalid: bool = False, rejects_path: str | None = None) -> dict:
    """Run an uploaded file's import; the upload is deleted afterwards (the rejects file stays)."""
    from .services import import_path

    batch = ImportBatch.objects.select_related("project").get(id=batch_id)
    try:
        result = import_path(batch.project, path, filename=batch.filename, skip_invalid=skip_invalid,
                             rejects_path=rejects_path, batch=batch)
    finally:
        if os.path.exists(path):
            os.remove(path)
    return {"batch": batch_id, "state": result.batch.state, "rows_imported": result.rows_imported,
            "rows_rejected": result.rows_rejected}
