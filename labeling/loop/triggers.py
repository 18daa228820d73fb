"""What starts background work: reactions to answers (a completed wave, or every N labels,
starts the retrain pipeline) and the requests the pages make (retrain, embed, import an upload).
Each records a TaskRun (or an ImportBatch) and enqueues once the transaction commits. This is the
only module that imports the Celery tasks.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.items.models import ImportBatch
from labeling.items.services import rejects_path_for
from labeling.modeling import selectors as modeling_selectors
from labeling.modeling.models import TaskRun
from labeling.projects.models import Project
from labeling.waves import selectors as wave_selectors
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from . import tasks
from .runs import (
    EMBED,
    FINAL_MODEL,
    RETRAIN,
    expire_stale_runs,
    fail_run,
    last_retrain_run,
    open_retrain_run,
    stale_after,
)

log = logging.getLogger(__name__)


def request_retrain(project: Project, *, reason: str = "manual") -> TaskRun:
    """Enqueue embed → train → score → plan for the project and return its TaskRun.

    At most one runs per project: while one is pending or running, that TaskRun is returned and
    nothing new starts. The guard is the database's (a partial unique constraint on TaskRun plus
    a row lock on the project), so it holds across web processes and workers on any machine.
    """
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        expire_stale_runs(project)
        running = open_retrain_run(project)
        if running is not None:
            return running
        try:
            with transaction.atomic():
                run = TaskRun.objects.create(
                    project=project, kind=RETRAIN, message="Queued.", detail={"reason": reason, "stage": "queued"}
                )
        except IntegrityError:
            # Another process created one between our check and insert (SQLite has no row locks).
            return open_retrain_run(project)
        transaction.on_commit(lambda: _enqueue(tasks.run_retrain, run.id, args=[run.id]))
    return run


def _enqueue(task, run_id: int, *, args: list) -> None:
    """Send a run's first task. If the broker cannot be reached (or, in eager mode, the pipeline
    breaks unexpectedly) the run is failed with the reason instead of staying pending, so the
    next request can start afresh."""
    try:
        task.apply_async(args=args)
    except Exception as exc:
        log.exception("could not run %s for TaskRun %s", task.name, run_id)
        fail_run(run_id, f"Could not queue the work: {type(exc).__name__}: {exc}")


def request_final_model(project: Project) -> TaskRun:
    """Enqueue the final model (fine-tune, train, serve if it beats the frozen model) and return
    its TaskRun; the one already pending or running when there is one. Refused (ValueError, with
    the reason) while a retrain is under way: both train a model version of the project."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        expire_stale_runs(project)
        open_final = TaskRun.objects.filter(project=project, kind=FINAL_MODEL, state__in=[TaskRun.PENDING,
                                                                                           TaskRun.RUNNING])
        # No heartbeat for the stale period: its worker died; fail it so a new one can start.
        open_final.filter(updated_at__lt=timezone.now() - stale_after()).update(
            state=TaskRun.FAILED, message="Interrupted: no progress for too long.", finished_at=timezone.now())
        running = open_final.first()
        if running is not None:
            return running
        busy = open_retrain_run(project)
        if busy is not None:
            raise ValueError(f"A retrain is under way (task {busy.pk}); train the final model after it ends.")
        if not modeling_selectors.training_set(project).labels:
            raise ValueError("Nothing is labeled yet: the final model is trained on the project's labels.")
        run = TaskRun.objects.create(project=project, kind=FINAL_MODEL, message="Queued.",
                                     detail={"stage": "queued", "reason": "final_model"})
        transaction.on_commit(lambda: _enqueue(tasks.train_final, run.id, args=[run.id]))
    return run


def request_embedding(project: Project) -> TaskRun:
    """Embed the project's items that have no cached vector yet (after an import)."""
    with transaction.atomic():
        run = TaskRun.objects.create(project=project, kind=EMBED, message="Queued.")
        transaction.on_commit(lambda: _enqueue(tasks.embed_project, run.id, args=[project.id, run.id]))
    return run


def start_upload_import(batch: ImportBatch, path: Path, *, skip_invalid: bool) -> None:
    """Queue an uploaded file's import (a worker in production, in-process in the demo) once the
    batch row is committed, so the worker can see it."""
    rejects = str(rejects_path_for(batch)) if skip_invalid else None
    transaction.on_commit(lambda: tasks.import_file.delay(batch.id, str(path), skip_invalid=skip_invalid,
                                                          rejects_path=rejects))


# --- reactions to answers -------------------------------------------------------------------------
def on_answer_saved(sender=None, *, project, item, **kwargs) -> None:
    """answer_saved receiver: a completed open wave, or ``retrain_every`` new labels since the
    last retrain, starts the retrain pipeline (which plans the next wave when none is open).

    The answer is already stored when this runs: a failure here is logged, never reported to the
    annotator as a failed save."""
    try:
        _react_to_answer(project, item)
    except Exception:
        log.exception("the loop could not react to an answer in project %s", getattr(project, "slug", project))


def _react_to_answer(project: Project, item) -> None:
    pick = (
        WaveItem.objects.filter(wave__project=project, wave__state=Wave.OPEN, item=item)
        .select_related("wave")
        .first()
    )
    if pick is not None and wave_selectors.pick_is_complete(pick):
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).first()
            wave = Wave.objects.get(pk=pick.wave_id)
            if wave.state == Wave.OPEN and wave_selectors.wave_is_complete(wave):
                waves.close_wave(wave)
                request_retrain(project, reason="wave_complete")
                return
    every = project.retrain_every
    if every:
        last = last_retrain_run(project)
        if modeling_selectors.labels_since(project, last.created_at if last else None) >= every:
            request_retrain(project, reason="retrain_every")
