"""Celery tasks of the loop. Each is a thin, idempotent wrapper around learner.services.

Queues (config.settings CELERY_TASK_ROUTES): ``embed_*`` → embed, ``train_*`` → train (the GPU
worker where one runs), everything else → default. Every task is acks_late (a worker that dies
mid-task leaves the message to be redelivered) and retried with backoff on transient errors
(database or broker connection trouble). Other errors are recorded on the TaskRun (and the model
version) instead of being raised, so a failed step never takes a web request down in eager mode.

The retrain pipeline, one TaskRun(kind="retrain") throughout:
  run_retrain → chord(embed_items × chunks) → train_model → chord(score_chunk × chunks)
  → finish_scoring (activate version, route review) → plan_after_retrain (plan + open a wave
  when none is open; mark the run done).
"""
from __future__ import annotations

import logging

from celery import chord, shared_task
from celery.signals import worker_init
from django.db import InterfaceError, OperationalError

from labeling.projects.models import Project

from . import services
from .models import ModelVersion, TaskRun

log = logging.getLogger(__name__)

try:  # redis is installed with celery[redis]; its connection errors are transient too
    from redis.exceptions import ConnectionError as RedisConnectionError
except ImportError:  # pragma: no cover
    RedisConnectionError = ConnectionError

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, RedisConnectionError, TimeoutError)
TASK_OPTIONS = {
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
EMBED_CHUNK = 256
SCORE_CHUNK = 20_000


def _run(run_id: int | None) -> TaskRun | None:
    return TaskRun.objects.select_related("project").filter(pk=run_id).first() if run_id else None


def _alive(run: TaskRun | None) -> bool:
    """False when the run was failed (by an earlier step or as stale): later steps stop."""
    return run is not None and run.state in (TaskRun.PENDING, TaskRun.RUNNING)


@shared_task(**TASK_OPTIONS)
def run_retrain(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run):
        return
    project = run.project
    services.update_run(run_id, state=TaskRun.RUNNING, progress=0.0, message="Embedding new items.", stage="embed")
    todo = services.unembedded_item_ids(project)
    chunks = [todo[i : i + EMBED_CHUNK] for i in range(0, len(todo), EMBED_CHUNK)]
    services.update_run(run_id, to_embed=len(todo))
    if not chunks:
        train_model.apply_async(args=[run_id])
        return
    share = services.stage_progress("embed", 1.0) / len(chunks)
    chord(embed_items.si(chunk, run_id, share) for chunk in chunks)(train_model.si(run_id))


@shared_task(**TASK_OPTIONS)
def embed_items(item_ids: list[int], run_id: int | None = None, progress_share: float = 0.0) -> int:
    try:
        encoded = services.embed_items(item_ids)
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the chord body sees it and stops
        log.exception("embedding failed")
        if run_id:
            services.fail_run(run_id, f"Embedding failed: {type(exc).__name__}: {exc}")
        return 0
    if run_id:
        services.add_progress(run_id, progress_share)
    return encoded


@shared_task(**TASK_OPTIONS)
def embed_project(project_id: int, run_id: int | None = None) -> int:
    project = Project.objects.get(pk=project_id)
    if run_id:
        services.update_run(run_id, state=TaskRun.RUNNING, message="Embedding items.")
    try:
        done = services.embed_project(
            project, on_progress=(lambda share: services.update_run(run_id, progress=share)) if run_id else None
        )
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("embedding failed")
        if run_id:
            services.fail_run(run_id, f"Embedding failed: {type(exc).__name__}: {exc}")
        return 0
    if run_id:
        services.update_run(run_id, state=TaskRun.DONE, progress=1.0, message=f"Embedded {done} texts.",
                            finished=True)
    return done


@shared_task(**TASK_OPTIONS)
def train_model(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run):
        return
    services.update_run(run_id, progress=services.stage_progress("train", 0.0), message="Training.", stage="train")
    try:
        version = services.train_version(run.project, run_id=run_id)
    except TRANSIENT:
        raise
    except services.NotEnoughLabels as exc:
        services.update_run(run_id, message=str(exc), training="skipped")
        plan_after_retrain.apply_async(args=[run_id])
        return
    except Exception as exc:  # noqa: BLE001 - the version is FAILED; the previous one stays active
        log.exception("training failed")
        services.update_run(run_id, training="failed", error=f"Training failed: {type(exc).__name__}: {exc}")
        plan_after_retrain.apply_async(args=[run_id])
        return
    services.update_run(run_id, progress=services.stage_progress("score", 0.0), message="Scoring the pool.",
                        stage="score", model_version=version.number, model_version_id=version.id)
    chunks = services.score_chunks(run.project, chunk_size=SCORE_CHUNK)
    if not chunks:
        finish_scoring.apply_async(args=[version.id, run_id])
        return
    share = (services.stage_progress("score", 1.0) - services.stage_progress("score", 0.0)) / len(chunks)
    chord(score_chunk.si(version.id, lo, hi, run_id, share) for lo, hi in chunks)(
        finish_scoring.si(version.id, run_id)
    )


@shared_task(**TASK_OPTIONS)
def score_chunk(version_id: int, id_min: int, id_max: int, run_id: int | None = None, progress_share: float = 0.0):
    version = ModelVersion.objects.select_related("project").get(pk=version_id)
    try:
        n = services.score_range(version, id_min, id_max)
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("scoring failed")
        if run_id:
            services.update_run(run_id, scoring="failed", error=f"Scoring failed: {type(exc).__name__}: {exc}")
        return 0
    if run_id:
        services.add_progress(run_id, progress_share)
    return n


@shared_task(**TASK_OPTIONS)
def score_version(version_id: int) -> int:
    """Rescore the whole pool under one version (idempotent: rows are replaced, never duplicated)."""
    version = ModelVersion.objects.select_related("project").get(pk=version_id)
    return services.score_version(version, chunk_size=SCORE_CHUNK)


@shared_task(**TASK_OPTIONS)
def finish_scoring(version_id: int, run_id: int | None = None) -> None:
    run = _run(run_id)
    if run_id and not _alive(run):
        return
    version = ModelVersion.objects.select_related("project").get(pk=version_id)
    if run and (run.detail or {}).get("scoring") == "failed":
        # Incomplete scores must not become the active model's: the version is not activated.
        ModelVersion.objects.filter(pk=version_id, state=ModelVersion.READY).update(
            state=ModelVersion.FAILED, error=(run.detail or {}).get("error", "Scoring failed.")
        )
    else:
        services.activate_version(version)
        routed = services.route_low_confidence(version)
        if run_id:
            services.update_run(run_id, review_routed=routed)
    if run_id:
        plan_after_retrain.apply_async(args=[run_id])


@shared_task(**TASK_OPTIONS)
def plan_after_retrain(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run):
        return
    services.update_run(run_id, progress=services.stage_progress("plan", 0.0), message="Planning.", stage="plan")
    services.finish_retrain(run)


@worker_init.connect
def _preload_learner(**kwargs) -> None:
    from . import cache

    # Workers keep whole pools in memory between steps (see learner.cache.pool_matrix).
    cache.WORKER_PROCESS = True
    # A worker pays the scikit-learn / planner imports (~2 s) once at start, not in its first training.
    import learner.planner  # noqa: F401
    import learner.training  # noqa: F401
