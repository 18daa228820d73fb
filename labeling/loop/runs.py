"""Bookkeeping of background work (TaskRun rows): progress, heartbeat, failure, the stale-run
rule, and the reads the pages and the API show. Every task of labeling.loop.tasks reports here."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project

RETRAIN = "retrain"
EMBED = "embed"
FINAL_MODEL = "final_model"
# Share of a retrain run's progress bar each stage fills.
STAGES = {"embed": (0.0, 0.15), "train": (0.15, 0.45), "score": (0.45, 0.9), "plan": (0.9, 1.0)}
# How the pages name the stage a run recorded last (detail["stage"]).
STAGE_NAMES = {"queued": "queued", "embed": "embedding", "train": "training", "score": "scoring",
               "plan": "planning", "done": "done"}


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "LONGTAIL_TASK_STALE_SECONDS", 3600)))


def update_run(run_id: int, *, state=None, progress=None, message=None, finished=False, **detail) -> None:
    """Record progress on a TaskRun (one UPDATE; the heartbeat moves with it)."""
    run = TaskRun.objects.filter(pk=run_id).first()
    if run is None:
        return
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
    TaskRun.objects.filter(pk=run_id).update(**fields)


def stage_progress(stage: str, share: float) -> float:
    low, high = STAGES[stage]
    return low + (high - low) * max(0.0, min(1.0, share))


def add_progress(run_id: int, amount: float) -> None:
    """Atomic increment: score chunks on several workers add their share concurrently."""
    TaskRun.objects.filter(pk=run_id).update(progress=F("progress") + amount, updated_at=timezone.now())


def fail_run(run_id: int, message: str) -> None:
    update_run(run_id, state=TaskRun.FAILED, message=message, finished=True, error=message)


def expire_stale_runs(project: Project) -> None:
    """A pending/running retrain with no heartbeat for LONGTAIL_TASK_STALE_SECONDS was interrupted
    (its worker died and the message is gone): fail it and any training version it left."""
    cutoff = timezone.now() - stale_after()
    stale = TaskRun.objects.filter(
        project=project, kind=RETRAIN, state__in=[TaskRun.PENDING, TaskRun.RUNNING], updated_at__lt=cutoff
    )
    if stale.exists():
        stale.update(state=TaskRun.FAILED, message="Interrupted: no progress for too long.", finished_at=timezone.now())
        ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING, created_at__lt=cutoff).update(
            state=ModelVersion.FAILED, error="Interrupted: the training stopped reporting.", finished_at=timezone.now()
        )


def close_run(run: TaskRun, notes: list[str]) -> None:
    """End a retrain run: FAILED with its recorded error, else DONE with what it did."""
    detail = run.detail or {}
    error = detail.get("error")
    if detail.get("training") == "skipped":
        notes.insert(0, "not trained (too few labels)")
    elif "model_version" in detail and not error:
        notes.insert(0, f"model v{detail['model_version']} active")
    if error:
        update_run(run.id, state=TaskRun.FAILED, progress=1.0, message=f"{error} ({'; '.join(notes)})", finished=True)
    else:
        update_run(run.id, state=TaskRun.DONE, progress=1.0, message="Done: " + "; ".join(notes) + ".",
                   finished=True, stage="done")


# --- reads ----------------------------------------------------------------------------------------
def open_retrain_run(project) -> TaskRun | None:
    return (
        TaskRun.objects.filter(project=project, kind=RETRAIN, state__in=[TaskRun.PENDING, TaskRun.RUNNING])
        .order_by("-created_at")
        .first()
    )


def last_retrain_run(project) -> TaskRun | None:
    return TaskRun.objects.filter(project=project, kind=RETRAIN).order_by("-created_at", "-id").first()


def task_runs(project, *, limit: int = 50):
    return TaskRun.objects.filter(project=project).order_by("-created_at", "-id")[:limit]


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
