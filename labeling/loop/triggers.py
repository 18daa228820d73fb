"""What starts background work: reactions to answers (a completed wave, or every N labels,
starts the retrain pipeline) and the requests the pages make (retrain, embed, import an upload).
Each records a TaskRun (or an ImportBatch) and enqueues once the transaction commits. This is the
only module that imports the Celery tasks.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from celery.exceptions import Retry
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labeling.items.models import ImportBatch
from labeling.items.services import rejects_path_for
from labeling.modeling import embedding
from labeling.modeling import selectors as modeling_selectors
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project

from . import broker, pipeline, tasks
from .errors import describe_error
from .runs import (
    EMBED,
    FINAL_MODEL,
    RETRAIN,
    WAITING,
    claim_deferred_retrains,
    expire_stale_runs,
    fail_run,
    note_run,
    open_final_run,
    open_retrain_run,
    record_task_id,
    retrain_in_flight,
    update_run,
)
from .sweep_imports import expire_stale_imports, import_message_id

log = logging.getLogger(__name__)
FAILED_AS = {RETRAIN: "Retrain failed", EMBED: "Embedding failed", FINAL_MODEL: "Final model failed"}
# Stages of a retrain that has read the labels and settings it learns (train reads them first).
READ_ITS_INPUTS = ("train", "score", "plan")
FOLLOWUP_SAID = ("A retrain was asked for after this one read the labels: a follow-up retrain runs when it ends, "
                 "if its model lacks anything by then.")


def request_retrain(project: Project, *, reason: str = "manual", **detail) -> TaskRun:
    """Enqueue embed → train → score → plan for the project and return its TaskRun.

    At most one runs per project: while one is pending or running, that TaskRun is returned and
    nothing new starts. The guard is the database's (a partial unique constraint on TaskRun plus
    a row lock on the project), so it holds across web processes and workers on any machine.

    While the project's final model is pending or training (it trains a model version too), the
    run is created pending with stage ``waiting`` and nothing is queued: it is queued when the
    final model ends (labeling.loop.runs.claim_deferred_retrains; docs/loop.md, "One training per
    project").

    A request that finds the open run past reading the labels and settings (training, scoring or
    planning) is not in it: it is recorded on the project (``retrain_followup``), and that run
    queues one follow-up retrain when it ends if its model then lacks anything (a completed wave's
    last answers, a head switched meanwhile): labeling.loop.pipeline.finish_retrain. The returned
    run's message says so.
    """
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        expire_stale_runs(project)
        start_deferred_retrains(project)  # one that waited for a final model which has ended meanwhile
        running = open_retrain_run(project)
        if running is not None:
            if (running.detail or {}).get("stage") in READ_ITS_INPUTS:
                _ask_followup(project, running, reason)
            return running
        # a new run reads everything afresh: a follow-up asked of a run that never finished is in it
        Project.objects.filter(pk=project.pk).exclude(retrain_followup={}).update(retrain_followup={})
        final_run = open_final_run(project)
        waiting = {"stage": WAITING, "deferred_for_final": final_run.pk} if final_run is not None else {}
        try:
            with transaction.atomic():
                run = TaskRun.objects.create(
                    project=project, kind=RETRAIN,
                    message=(f"Waiting for the final model (task {final_run.pk}) to finish; starts after it."
                             if final_run is not None else "Queued."),
                    detail={"reason": reason, "stage": "queued", **detail, **waiting}
                )
        except IntegrityError:
            # Another process created one between our check and insert (SQLite has no row locks).
            return open_retrain_run(project)
        if final_run is None:
            transaction.on_commit(lambda: _start_retrain(project.pk, run.id, reason))
    return run


def _ask_followup(project: Project, running: TaskRun, reason: str) -> None:
    """Record (under the project's row lock, which finish_retrain takes too) that a retrain was asked
    for after ``running`` read its labels, as Project.retrain_followup {"after": run id, "reasons",
    "at"}: on the project, not in the run's detail, which the worker rewrites whole meanwhile
    (runs.update_run) and would drop it. The request's answer, the run, says so until its next step."""
    asked = Project.objects.filter(pk=project.pk).values_list("retrain_followup", flat=True).first() or {}
    if asked.get("after") != running.pk:
        asked = {"after": running.pk, "reasons": [], "at": timezone.now().isoformat()}
    if reason not in asked["reasons"]:
        asked["reasons"].append(reason)
    Project.objects.filter(pk=project.pk).update(retrain_followup=asked)
    if FOLLOWUP_SAID not in running.message:
        # the message only (no detail, no heartbeat): the worker rewrites the run's detail meanwhile
        note_run(running.pk, message=f"{running.message} {FOLLOWUP_SAID}".strip())
        running.refresh_from_db(fields=["message"])


def _start_retrain(project_id: int, run_id: int, reason: str) -> None:
    """Send the retrain; when it cannot be queued, or (eager mode) it ran here and failed, after a
    wave ended the next one opens with the current model instead."""
    if _enqueue(tasks.run_retrain, run_id, args=[run_id]) or reason not in pipeline.WAVE_ENDED:
        return
    if tasks.run_retrain.app.conf.task_always_eager:
        # the request already waited for the whole retrain in-process: planning here is no worse
        pipeline.plan_without_retrain(project_id, run_id, then="ask for a retrain again")
    else:  # the answer that completed the wave returns at once
        pipeline.plan_without_retrain_in_background(project_id, run_id)


def start_deferred_retrains(project: Project | None = None) -> list[int]:
    """Queue (on commit) the retrains that waited for a final model that has ended since; the
    final model task does it itself when it ends, this catches one whose worker died."""
    claimed = claim_deferred_retrains(project)
    for run_id in claimed:
        transaction.on_commit(lambda run_id=run_id: _enqueue(tasks.run_retrain, run_id, args=[run_id]))
    return claimed


def request_review_routing(project: Project) -> None:
    """Route the review queue again with the active model once the transaction commits (the
    settings review routing reads changed). A broker that cannot take it is logged, never fails
    the save: the next activation routes with the new settings anyway."""
    if not ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).exists():
        return

    def send():
        try:
            tasks.route_review_again.apply_async(args=[project.pk])
        except Exception:
            log.exception("could not queue review routing for %s", project.slug)

    transaction.on_commit(send)


def _enqueue(task, run_id: int, *, args: list) -> bool:
    """Send a run's first task; False when it was not sent or (eager mode) ran and failed. Where the
    broker cannot be reached (publishing fails fast: CELERY_BROKER_TRANSPORT_OPTIONS) or the eager
    work raises, the run is failed with the reason, never left pending."""
    eager = task.app.conf.task_always_eager
    try:
        sent = task.apply_async(args=args)
    except Exception as exc:
        log.exception("could not run %s for TaskRun %s", task.name, run_id)
        if eager:
            # the whole chain ran in-process: the error is the work's own (wrapped in a Retry if transient)
            cause = exc.exc if isinstance(exc, Retry) and exc.exc is not None else exc
            kind = TaskRun.objects.filter(pk=run_id).values_list("kind", flat=True).first()
            fail_run(run_id, f"{FAILED_AS.get(kind, 'Failed')}: {describe_error(cause)}", queue_error=True,
                     in_process=True)
        else:
            fail_run(run_id, f"Could not queue the work (is the broker up?): {describe_error(exc)}", queue_error=True)
        return False
    # the message's id: a pending run whose message the broker lost is found by it (runs.expire_stale_runs)
    record_task_id(run_id, sent.id)
    # in eager mode the run has ended here: a step that failed recorded it on the run
    return not eager or not TaskRun.objects.filter(pk=run_id, state=TaskRun.FAILED).exists()


def queue_failed(run: TaskRun) -> bool:
    """True when the run failed because its first task could not be sent to the broker, or (eager
    mode) because the work it ran in-process raised: either way it did nothing that serves."""
    return run.state == TaskRun.FAILED and bool((run.detail or {}).get("queue_error"))


def embed_after_import() -> bool:
    """Embedding runs as background tasks after each import when a broker is configured; in eager
    mode (the demo, no broker) planning embeds what is missing in-process instead."""
    flag = getattr(settings, "LONGTAIL_EMBED_AFTER_IMPORT", None)
    return (not settings.CELERY_TASK_ALWAYS_EAGER) if flag is None else bool(flag)


def open_embedding_run(project: Project) -> TaskRun | None:
    return (TaskRun.objects.filter(project=project, kind=EMBED, state__in=[TaskRun.PENDING, TaskRun.RUNNING])
            .order_by("-created_at").first())


def request_final_model(project: Project) -> TaskRun:
    """Enqueue the final model (fine-tune, train, serve if it beats the frozen model) and return
    its TaskRun; the one already pending or running when there is one. Refused (ValueError, with
    the reason) while a retrain is under way: both train a model version of the project."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        expire_stale_runs(project)  # one whose worker died; one still queued is returned below
        running = open_final_run(project)
        if running is not None:
            return running
        start_deferred_retrains(project)  # a retrain that waited for a final model that died: it goes first
        busy = open_retrain_run(project)
        if busy is not None:
            raise ValueError(f"A retrain is under way (task {busy.pk}); train the final model after it ends.")
        if not modeling_selectors.training_set(project).labels:
            raise ValueError("Nothing is labeled yet: the final model is trained on the project's labels.")
        run = TaskRun.objects.create(project=project, kind=FINAL_MODEL, message="Queued.",
                                     detail={"stage": "queued", "reason": "final_model"})
        transaction.on_commit(lambda: _enqueue(tasks.train_final, run.id, args=[run.id]))
    return run


def request_embedding(project: Project, *, plan_when_done: bool = False, **detail) -> TaskRun:
    """Embed the project's items that have no cached vector yet, in chunked tasks on the embed
    queue (tasks.start_embedding); with ``plan_when_done`` the next wave is planned after."""
    with transaction.atomic():
        run = TaskRun.objects.create(project=project, kind=EMBED, message="Queued.",
                                     detail={"stage": "queued", "plan_when_done": plan_when_done, **detail})
        transaction.on_commit(lambda: _enqueue(tasks.start_embedding, run.id, args=[run.id]))
    return run


def on_items_imported(sender=None, *, project, batch=None, **kwargs) -> None:
    """items_imported receiver: queue the new items' embedding (never fails the import)."""
    if not embed_after_import():
        return
    try:
        request_embedding(project, import_batch=getattr(batch, "pk", None))
    except Exception:
        log.exception("could not request embedding after an import into %s", getattr(project, "slug", project))


def start_upload_import(batch: ImportBatch, path: Path, *, skip_invalid: bool) -> None:
    """Queue an uploaded file's import (a worker in production, in-process in the demo) once the
    batch row is committed, so the worker can see it. When the broker cannot take it, the batch
    is failed with the reason (never left pending) and the upload is removed. The message's id is
    the batch's (sweep_imports.import_message_id): the workers' sweep asks the broker whether it
    still holds it, as it asks about a pending run's first message.

    The message names the upload and the rejects file relative to MEDIA_ROOT: the worker reads
    them under its own (import_steps), which is another path on a worker machine that mounts the
    shared media elsewhere, or on the host a backup was restored to while the message waited."""
    media = Path(settings.MEDIA_ROOT)
    upload = path.relative_to(media).as_posix()
    rejects = rejects_path_for(batch).relative_to(media).as_posix() if skip_invalid else None
    expire_stale_imports()  # an upload is the next request that shows the imports: none stays running

    def send():
        # The wait for a worker is counted from the send, not from the batch's row (the upload's copy
        # came between): the sweep never takes a batch whose message is still being sent for a lost one.
        ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.PENDING).update(updated_at=timezone.now())
        try:
            tasks.import_file.apply_async(args=[batch.id, upload], task_id=import_message_id(batch.id),
                                          kwargs={"skip_invalid": skip_invalid, "rejects_path": rejects})
        except Exception as exc:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                raise  # in-process, the import's own errors are recorded on the batch by the importer
            log.exception("could not queue the import of batch %s", batch.id)
            ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.PENDING).update(
                state=ImportBatch.FAILED, progress=1.0, finished_at=timezone.now(),
                errors=[{"file": batch.filename, "line": None, "field": None,
                         "message": f"the import could not be queued (is the broker up?): {describe_error(exc)}. "
                                    "Nothing was imported; upload the file again later."}])
            if os.path.exists(path):
                os.remove(path)

    transaction.on_commit(send)


# --- interrupted runs -----------------------------------------------------------------------------
def recover_stale_runs(project: Project | None = None) -> list[TaskRun]:
    """Fail the runs whose worker died (labeling.loop.runs.expire_stale_runs) and queue each again,
    up to LONGTAIL_TASK_MAX_REQUEUES times. Returns the new runs."""
    queued = []
    # the workers' periodic sweep (no project) also asks the broker which pending runs lost their
    # message, and sends requeues it refused; a web request never waits on the broker for that
    failed = expire_stale_runs(project, ask_broker=project is None)
    # Retrains that waited for a final model whose worker died (failed just now, or earlier).
    queued += [TaskRun.objects.get(pk=run_id) for run_id in start_deferred_retrains(project)]
    for run in failed:
        attempt = int((run.detail or {}).get("attempt", 1))
        if attempt > int(settings.LONGTAIL_TASK_MAX_REQUEUES):
            log.warning("TaskRun %s was interrupted %s times; left failed", run.pk, attempt)
            continue
        again = {"requeued_from": run.pk, "attempt": attempt + 1}
        if run.kind == RETRAIN:
            queued.append(request_retrain(run.project, reason=(run.detail or {}).get("reason", "requeued"), **again))
        elif run.kind == EMBED:
            queued.append(request_embedding(run.project, plan_when_done=bool((run.detail or {}).get("plan_when_done")),
                                            **again))
        else:
            continue  # a final model (a long fine-tuning) is left failed: the lead starts it again
        note_run(run.pk, message=f"{run.message} Queued again as task {queued[-1].pk}.")
    if project is None:
        queued += _send_unsent_requeues(None)
    return queued


def _send_unsent_requeues(project: Project | None) -> list[TaskRun]:
    """An interrupted run queued again while the broker was down failed at once ("could not queue
    the work"), and nothing tried again: its project went without the retrain (or embedding) until
    someone asked. Once the broker answers, the newest such run of a project and kind, with nothing
    newer after it, is queued again, at the same attempt."""
    redis_client = broker.client()
    try:
        if redis_client is None or not redis_client.ping():
            return []
    except Exception:  # noqa: BLE001 - still down: the next sweep tries again
        return []
    unsent = TaskRun.objects.filter(state=TaskRun.FAILED, kind__in=[RETRAIN, EMBED], detail__has_key="queue_error",
                                    ).filter(detail__has_key="requeued_from").exclude(detail__has_key="sent_again_as")
    if project is not None:
        unsent = unsent.filter(project=project)
    queued = []
    for run in unsent.select_related("project").order_by("-created_at"):
        if TaskRun.objects.filter(project=run.project_id, kind=run.kind, created_at__gt=run.created_at).exists():
            note_run(run.pk, sent_again_as=None)  # a newer run of its kind exists: nothing to send
            continue
        detail = run.detail or {}
        again = {"requeued_from": detail["requeued_from"], "attempt": int(detail.get("attempt", 2))}
        if run.kind == RETRAIN:
            new = request_retrain(run.project, reason=detail.get("reason", "requeued"), **again)
        else:
            new = request_embedding(run.project, plan_when_done=bool(detail.get("plan_when_done")), **again)
        note_run(run.pk, message=f"{run.message} Sent again as task {new.pk} once the broker answered.",
                 sent_again_as=new.pk)
        queued.append(new)
    return queued


def on_worker_ready(sender=None, **kwargs) -> None:
    """celery worker_ready receiver: recover what a dead worker left, then keep looking every
    third of the stale cut-off while this worker lives (runs interrupted later are found too)."""
    _sweep()
    interval = max(1.0, float(settings.LONGTAIL_TASK_STALE_SECONDS) / 3)

    def loop():
        while True:
            time.sleep(interval)
            _sweep()

    threading.Thread(target=loop, name="stale-run-sweeper", daemon=True).start()


def _sweep() -> None:
    try:
        for run in recover_stale_runs():
            log.warning("queued TaskRun %s again (project %s): it was interrupted", run.pk, run.project_id)
        # the sweep also asks the broker which pending imports lost their message
        for batch in expire_stale_imports(ask_broker=True):
            log.warning("import batch %s (project %s) failed: %s", batch.pk, batch.project_id, batch.errors[0]["message"])
    except Exception:  # noqa: BLE001 - the next sweep tries again
        log.exception("stale-run sweep failed")
    finally:
        connection.close()


# --- planning by hand -----------------------------------------------------------------------------
def planning_blocker(project: Project) -> str | None:
    """Why a wave cannot be planned by hand now, or None. Interrupted runs are recovered first;
    while a retrain runs it plans itself; more than LONGTAIL_PLAN_EMBED_INLINE_MAX items still
    without a vector are embedded by workers (queued here if no run is at it) and the wave is
    planned when they are done, instead of the request embedding them (with a broker; in eager
    mode planning embeds in-process)."""
    recover_stale_runs(project)
    busy = retrain_in_flight(project)
    if busy:
        return busy
    if not embed_after_import():
        return None
    missing = len(embedding.unembedded_item_ids(project))
    if missing <= int(settings.LONGTAIL_PLAN_EMBED_INLINE_MAX):
        return None  # a few texts: the planner embeds them itself (the web worker's encoder is warm)
    run = open_embedding_run(project)
    if run is None:
        run = request_embedding(project, plan_when_done=True)
        run.refresh_from_db()
        if queue_failed(run):
            return f"{missing} items have no vector yet and their embedding could not be queued: {run.message}"
    else:
        update_run(run.pk, plan_when_done=True)
    return (f"{missing} items are still being embedded (task {run.pk}, {float(run.progress):.0%}); planning starts "
            "when they are done.")
