"""Bookkeeping of background work (TaskRun rows): progress, heartbeat, failure, the stale-run
rule, and the reads the pages and the API show. Every task of labeling.loop.tasks reports here."""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import F, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Concat
from django.utils import timezone

# The heartbeat thread lives beside the imports, which beat with it from start to end (import_path);
from labeling.items.services import beating as _beating
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project

from .cutoffs import pending_stale_after, stale_after
from .stale_rule import LATE, LOST, Unstarted, verdicts

# The stale-import rule lives beside this one (its own module); a project's deletion imports it from here.
from .sweep_imports import expire_stale_imports  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

RETRAIN = "retrain"
EMBED = "embed"
FINAL_MODEL = "final_model"
# detail["stage"] of a retrain requested while the project's final model trains: pending, not
# queued; it is queued when that final model ends (claim_deferred_retrains).
WAITING = "waiting"
# detail key: the ids of the messages a run's last step sent (record_next_steps)
NEXT_STEPS = "next_task_ids"
# Share of a retrain run's progress bar each stage fills.
STAGES = {"embed": (0.0, 0.15), "train": (0.15, 0.45), "score": (0.45, 0.9), "plan": (0.9, 1.0)}
# How the pages name the stage a run recorded last (detail["stage"]).
STAGE_NAMES = {"queued": "queued", "waiting": "waiting for the final model", "embed": "embedding", "train": "training", "score": "scoring",
               "plan": "planning", "done": "done"}


OPEN = (TaskRun.PENDING, TaskRun.RUNNING)


def update_run(run_id: int, *, state=None, progress=None, message=None, finished=False, **detail) -> bool:
    """Record progress on an open TaskRun (one UPDATE; the heartbeat moves with it). A run that has
    ended (done, or failed: by its own error, or as stale by the sweep, which may have queued it
    again as another run) is never written again: an execution the sweep took for dead that is in
    fact still going (a frozen worker, a heartbeat that stopped) must not revive it or overwrite
    what its replacement reports. Returns False when nothing was written."""
    run = TaskRun.objects.filter(pk=run_id, state__in=OPEN).first()
    if run is None:
        return False
    fields = {"updated_at": timezone.now()}
    if state is not None:
        fields["state"] = state
    if progress is not None:
        fields["progress"] = max(0.0, min(1.0, float(progress)))
    if message is not None:
        fields["message"] = str(message)[:500]
    if finished:
        fields["finished_at"] = timezone.now()
    if detail:
        fields["detail"] = {**(run.detail or {}), **detail}
    return bool(TaskRun.objects.filter(pk=run_id, state__in=OPEN).update(**fields))


def note_run(run_id: int, *, message=None, **detail) -> None:
    """Add to what a run says, whatever its state (the sweep's "queued again as task N" on the
    run it failed); never its state, progress or heartbeat."""
    run = TaskRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    fields = {} if message is None else {"message": str(message)[:500]}
    if detail:
        fields["detail"] = {**(run.detail or {}), **detail}
    if fields:
        TaskRun.objects.filter(pk=run_id).update(**fields)


def _set_detail(run_id: int, key: str, value, *, touch: bool = False) -> None:
    """Set one key of a run's detail in one statement: the worker may be writing the run's detail
    meanwhile (a read-modify-write here could undo its stage). ``touch``: of an open run only, and
    its heartbeat moves with it."""
    table = connection.ops.quote_name(TaskRun._meta.db_table)
    json_set = ("COALESCE(detail, '{}'::jsonb) || jsonb_build_object(%s::text, %s::jsonb)"
                if connection.vendor == "postgresql" else "json_set(COALESCE(detail, '{}'), '$.' || %s, json(%s))")
    params = [key, json.dumps(value)]
    if touch:
        json_set += ", updated_at = %s"
        params.append(connection.ops.adapt_datetimefield_value(timezone.now()))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET detail = {json_set} WHERE id = %s"
                       + (" AND state IN (%s, %s)" if touch else ""), [*params, run_id, *(OPEN if touch else ())])


def record_task_id(run_id: int, task_id: str) -> None:
    """Store the id of a run's first task message in its detail (a pending run whose message the
    broker lost is found by it)."""
    _set_detail(run_id, "task_id", task_id)


def record_next_steps(run_id: int, task_ids: list[str]) -> None:
    """Store the ids of the messages a run's step sends next (a task, or a chord's group and the
    task after it), before they are sent: until one starts and beats the heartbeat, nothing moves
    it, and the sweep asks the broker whether they still wait for a worker (expire_stale_runs).
    The heartbeat moves: the wait is counted from here."""
    _set_detail(run_id, NEXT_STEPS, list(task_ids), touch=True)


def stage_progress(stage: str, share: float) -> float:
    low, high = STAGES[stage]
    return low + (high - low) * max(0.0, min(1.0, share))


def add_progress(run_id: int, amount: float) -> None:
    """Atomic increment: score chunks on several workers add their share concurrently."""
    TaskRun.objects.filter(pk=run_id, state__in=OPEN).update(progress=F("progress") + amount,
                                                            updated_at=timezone.now())


def is_open(run_id: int | None) -> bool:
    """The run is pending or running (not ended, not failed as stale meanwhile)."""
    return bool(run_id) and TaskRun.objects.filter(pk=run_id, state__in=OPEN).exists()


def fail_run(run_id: int, message: str, **detail) -> None:
    update_run(run_id, state=TaskRun.FAILED, message=message, finished=True, error=message, **detail)


def give_up_run(run_id: int, message: str) -> None:
    """Fail a run whose task is not run again (delivered too often: labeling.loop.executions),
    and the version it was training."""
    project_id = TaskRun.objects.filter(pk=run_id).values_list("project_id", flat=True).first()
    with transaction.atomic():  # one commit: a reader that sees the run failed sees its version failed too
        fail_run(run_id, message, gave_up=True)
        if project_id is not None:
            _fail_orphaned_versions(project_id, [run_id])


def expire_stale_runs(project: Project | None = None, *, ask_broker: bool = False) -> list[TaskRun]:
    """Fail the interrupted runs (of one project, or all) and return them (the caller may queue them
    again): running with no heartbeat for LONGTAIL_TASK_STALE_SECONDS in its first step (no next
    step recorded); pending, or running with its next step recorded, past that cut-off when the
    broker no longer holds its message (none of its next step's messages still waits to start),
    whatever its age while it does: the workers' sweep asks (``ask_broker``), a web request leaves
    it to the sweep; by age past the pending cut-off only where the broker cannot be asked
    (labeling.loop.stale_rule). A model version left ``training`` or ``ready`` by a failed run is
    failed too."""
    now = timezone.now()
    runs = TaskRun.objects.filter(kind__in=[RETRAIN, EMBED, FINAL_MODEL])
    if project is not None:
        runs = runs.filter(project=project)
    quiet = runs.filter(updated_at__lt=now - stale_after())
    pending = quiet.filter(state=TaskRun.PENDING).exclude(
        kind=RETRAIN, detail__stage=WAITING)  # no message to lose yet: it waits for a final model
    cut_off, pending_cut_off = int(stale_after().total_seconds()), int(pending_stale_after().total_seconds())
    reasons = {}
    unstarted = {run.pk: (run, Unstarted(run.pk, run.updated_at, sent=_ids((run.detail or {}).get("task_id"))))
                 for run in pending}
    for run in quiet.filter(state=TaskRun.RUNNING):
        if (run.detail or {}).get(NEXT_STEPS):
            unstarted[run.pk] = (run, Unstarted(run.pk, run.updated_at, steps=_ids(*run.detail[NEXT_STEPS])))
        else:
            reasons[run.pk] = (run, f"Interrupted: no heartbeat for {{s}} s while its step ran: its worker stopped "
                                    f"(the cut-off is {cut_off} s).")
    # One read of the queues for the whole sweep, not one per run.
    for pk, verdict in verdicts([work for _, work in unstarted.values()], now=now, ask_broker=ask_broker).items():
        run = unstarted[pk][0]
        reasons[pk] = (run, _UNSTARTED[run.state, verdict].format(cut_off=cut_off, pending_cut_off=pending_cut_off))
    failed = []
    for run, reason in reasons.values():
        message = reason.format(s=int((now - run.updated_at).total_seconds()))
        # Conditional UPDATE: a run that moved meanwhile (or that another process failed) is left alone.
        if TaskRun.objects.filter(pk=run.pk, state=run.state, updated_at=run.updated_at).update(
                state=TaskRun.FAILED, message=message, finished_at=now,
                detail={**(run.detail or {}), "error": message, "interrupted": True}):
            run.state, run.message = TaskRun.FAILED, message
            failed.append(run)
    projects = {run.project_id for run in failed} | ({project.pk} if project is not None else set())
    for project_id in projects:
        _fail_orphaned_versions(project_id, [run.pk for run in failed if run.project_id == project_id])
    return failed


# Why a run whose message had not started was given up, by its state and the verdict.
_UNSTARTED = {
    (TaskRun.PENDING, LOST): "Lost: queued {{s}} s ago, its task message is no longer with the broker (Redis restarted "
                             "without its data?), so nothing would ever start it.",
    (TaskRun.PENDING, LATE): "Interrupted: queued {{s}} s ago and never started: no worker took it within "
                             "{pending_cut_off} s (LONGTAIL_TASK_STALE_SECONDS + LONGTAIL_BROKER_VISIBILITY_TIMEOUT).",
    (TaskRun.RUNNING, LOST): "Interrupted: no heartbeat for {{s}} s, and no step of it is queued or waiting for a "
                             "worker: its worker stopped (the cut-off is {cut_off} s).",
    (TaskRun.RUNNING, LATE): "Interrupted: no progress for {{s}} s, past the cut-off of {pending_cut_off} s for a run "
                             "whose next step waits for a worker (LONGTAIL_TASK_STALE_SECONDS + "
                             "LONGTAIL_BROKER_VISIBILITY_TIMEOUT).",
}


def _ids(*ids) -> tuple[str, ...]:
    return tuple(str(i) for i in ids if i)


def _fail_orphaned_versions(project_id: int, failed_run_ids: list[int]) -> None:
    training = ModelVersion.objects.filter(project_id=project_id, state=ModelVersion.TRAINING)
    note = dict(state=ModelVersion.FAILED, error="Interrupted: the training stopped reporting (its worker stopped).",
                finished_at=timezone.now())
    if failed_run_ids:
        training.filter(config__task_run__in=failed_run_ids).update(**note)
    # A retrain's version waits ``ready`` for its run to score the pool and activate it: its run failed,
    # nothing ever will. (A final model's ready version is a finished model, kept for export.)
    # One UPDATE for all of them; each message names its version's own run.
    retrains = list(TaskRun.objects.filter(pk__in=failed_run_ids, kind=RETRAIN).values_list("pk", flat=True))
    if retrains:
        ModelVersion.objects.filter(project_id=project_id, state=ModelVersion.READY, config__task_run__in=retrains).update(
            state=ModelVersion.FAILED, error=Concat(
                Value("Not activated: its retrain (task "), KeyTextTransform("task_run", "config"),
                Value(") was interrupted before the pool was scored under it."), output_field=TextField()))
    # Retrains and final models train versions; with neither open, a version still training is orphaned.
    if not TaskRun.objects.filter(project_id=project_id, kind__in=[RETRAIN, FINAL_MODEL],
                                  state__in=[TaskRun.PENDING, TaskRun.RUNNING]).exists():
        training.filter(created_at__lt=timezone.now() - stale_after()).update(**note)


@contextmanager
def heartbeat(run_id: int | None):
    """While the block runs (a long training, a scoring chunk), the run's heartbeat moves: a live
    run is never taken for a dead one."""
    if not run_id:
        yield
        return
    with _beating(f"heartbeat-{run_id}", lambda: TaskRun.objects.filter(
            pk=run_id, state__in=[TaskRun.PENDING, TaskRun.RUNNING]).update(updated_at=timezone.now())):
        yield


def close_run(run: TaskRun, notes: list[str]) -> None:
    """End a retrain run: FAILED with its recorded error, else DONE with what it did."""
    detail = run.detail or {}
    error = detail.get("error")
    if detail.get("training") == "skipped":
        # the reason train_version gave ("30 labeled item(s) over 1 label(s): … two labels."): more
        # answers of the same label never help, and the lead must be told that
        reason = str(detail.get("training_note") or "").strip()
        notes.insert(0, f"not trained: {reason[0].lower()}{reason[1:]}" if reason else "not trained (too few labels)")
    elif detail.get("training") == "kept_final":
        notes.insert(0, f"not trained: the served final model v{detail.get('kept_model_version')} was trained on "
                        "these same labels and keeps serving")
    elif "model_version" in detail and not error:
        notes.insert(0, f"model v{detail['model_version']} active")
    text = join_notes(notes)
    if error:
        update_run(run.id, state=TaskRun.FAILED, progress=1.0, finished=True,
                   message=f"{error} ({text.removesuffix('.')})" if text else str(error))
    else:
        # "Done: model v5 active; wave 6 opened (20 items)." / "Done. The label budget … is spent: …."
        done = "Done." if not text else f"Done. {text}" if text[0].isupper() else f"Done: {text}"
        update_run(run.id, state=TaskRun.DONE, progress=1.0, message=done, finished=True, stage="done")


def join_notes(notes: list[str]) -> str:
    """A run's notes as one text ending with one full stop: clauses ("model v5 active", "wave 6
    opened (20 items)") join with "; "; a note that is a sentence of its own (a NothingToPlan
    message, as the plan API answers it) starts a new sentence."""
    text = ""
    for note in filter(None, (str(n).strip() for n in notes)):
        if text and (note[0].isupper() or text.endswith(_ENDS)):
            text = f"{text if text.endswith(_ENDS) else text + '.'} {note[0].upper()}{note[1:]}"
        else:
            text = f"{text}; {note}" if text else note
    return text if not text or text.endswith(_ENDS) else f"{text}."


_ENDS = (".", "!", "?", "…")


# --- reads ----------------------------------------------------------------------------------------
def open_retrain_run(project) -> TaskRun | None:
    return (
        TaskRun.objects.filter(project=project, kind=RETRAIN, state__in=[TaskRun.PENDING, TaskRun.RUNNING])
        .order_by("-created_at")
        .first()
    )


def plan_waiting_for_embedding(project) -> TaskRun | None:
    """The open embedding run a lead's plan waits for (marked plan_when_done): the next wave is
    planned and opened by itself when it ends. None when no plan waits."""
    return (TaskRun.objects.filter(project=project, kind=EMBED, state__in=OPEN, detail__plan_when_done=True)
            .order_by("-created_at").first())


def open_final_run(project) -> TaskRun | None:
    return (TaskRun.objects.filter(project=project, kind=FINAL_MODEL, state__in=[TaskRun.PENDING, TaskRun.RUNNING])
            .order_by("-created_at").first())


def claim_deferred_retrains(project: Project | None = None) -> list[int]:
    """The retrains that waited for a final model (of one project, or all) whose final model has
    ended: each is moved from ``waiting`` to ``queued`` under its project's row lock (the lock
    request_retrain takes, so a retrain deferred while the final model ends is found here) and
    its id returned, once: the caller sends its first task. None while the final model is open."""
    waiting = TaskRun.objects.filter(kind=RETRAIN, state=TaskRun.PENDING, detail__stage=WAITING)
    if project is not None:
        waiting = waiting.filter(project=project)
    claimed = []
    for run_id, project_id in list(waiting.values_list("pk", "project_id")):
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project_id).first()
            if open_final_run(project_id) is not None:
                continue
            run = TaskRun.objects.filter(pk=run_id, state=TaskRun.PENDING, detail__stage=WAITING).first()
            if run is None:
                continue  # claimed by another process meanwhile
            final_id = (run.detail or {}).get("deferred_for_final")
            update_run(run_id, message=f"Queued: the final model (task {final_id}) has ended.", stage="queued",
                       released_at=timezone.now().isoformat())
            claimed.append(run_id)
    return claimed


def last_retrain_run(project, *, queued_only: bool = False) -> TaskRun | None:
    """The project's newest retrain run; with ``queued_only``, the newest that reached the broker
    (one that could not be queued trained nothing: labels since it still count toward the next)."""
    runs = TaskRun.objects.filter(project=project, kind=RETRAIN)
    if queued_only:
        runs = runs.exclude(detail__has_key="queue_error")
    return runs.order_by("-created_at", "-id").first()


def task_runs(project, *, limit: int = 50):
    # The project in the same query: task_run_dict prints its slug (else one query per run).
    return TaskRun.objects.filter(project=project).select_related("project").order_by("-created_at", "-id")[:limit]


def run_stage(run: TaskRun) -> str:
    """The stage a run is in (or ended in), as the pages name it."""
    if run.state == TaskRun.DONE:
        return "done"
    stage = (run.detail or {}).get("stage")
    if stage is None:
        return "queued" if run.state == TaskRun.PENDING else run.state
    return STAGE_NAMES.get(stage, str(stage))


def run_elapsed_seconds(run: TaskRun) -> float | None:
    """Seconds since the run was queued (until it finished, for a finished run)."""
    if run.created_at is None:
        return None
    end = run.finished_at or timezone.now()
    return round(max(0.0, (end - run.created_at).total_seconds()), 1)


def retrain_in_flight(project) -> str | None:
    """Why a wave should not be planned by hand right now (a retrain is pending or running: it
    plans the next wave itself, with the new model), or None."""
    run = open_retrain_run(project)
    if run is None:
        return None
    if (run.detail or {}).get("stage") == WAITING:
        return (f"A retrain (task {run.pk}) is waiting for the final model (task {run.detail.get('deferred_for_final')}) "
                "to finish: it then retrains, and plans and opens the next wave. Plan by hand after it ends.")
    return (f"A retrain is under way (task {run.pk}, {run_stage(run)}, {float(run.progress):.0%}): when it "
            "finishes it plans and opens the next wave with the new model. Plan by hand after it ends.")


def task_run_dict(run: TaskRun) -> dict:
    """The JSON the pages and the API show for a TaskRun."""
    return {
        "id": run.id,
        "project": run.project.slug if run.project_id else None,
        "kind": run.kind,
        "state": run.state,
        "stage": run_stage(run),
        "progress": round(float(run.progress), 4),
        "elapsed_s": run_elapsed_seconds(run),
        "message": run.message,
        "detail": run.detail,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "updated_at": run.updated_at.isoformat() if run.updated_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
