"""Celery tasks of the loop. Each is a thin, idempotent wrapper around a service
(labeling.modeling, labeling.waves, labeling.items) that reports on its TaskRun (.runs).

Queues (config.settings CELERY_TASK_ROUTES): ``embed_*`` → embed, ``train_*`` → train (the GPU
worker where one runs), everything else → default. Every task is acks_late (a worker that dies
mid-task leaves the message to be redelivered) and retried with backoff on transient errors
(database or broker connection trouble). Other errors are recorded on the TaskRun (and the model
version) instead of being raised, so a failed step never takes a web request down in eager mode.

The retrain pipeline, one TaskRun(kind="retrain") throughout:
  run_retrain → chord(embed_items × chunks) → train_model → chord(score_chunk × chunks)
  → finish_scoring (activate version, route review; train_label_issues beside) → plan_after_retrain (plan + open a wave
  when none is open; mark the run done).
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict

from celery import chord, shared_task
from celery.signals import worker_init
from celery.utils import uuid
from django.conf import settings

from labeling.items.scoring import score_new_items
from labeling.modeling import embedding, embedding_store, final, label_issues, review, scores, versions
from labeling.modeling.label_issue_share import trim_label_issues
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project

from . import import_steps, pipeline, runs
from .errors import describe_error
from .executions import TASK_OPTIONS, TRANSIENT

log = logging.getLogger(__name__)

SCORE_CHUNK = 20_000


def embed_chunks(item_ids: list[int]) -> list[list[int]]:
    return [item_ids[i : i + settings.LONGTAIL_EMBED_CHUNK] for i in range(0, len(item_ids), settings.LONGTAIL_EMBED_CHUNK)]


def _then(run_id: int, task, *args) -> None:
    """Send a run's next step, its id recorded on the run first: nothing beats the heartbeat while it
    waits for a worker, so the stale-run sweep asks the broker (runs.expire_stale_runs)."""
    task_id = uuid()
    runs.record_next_steps(run_id, [task_id])
    task.apply_async(args=list(args), task_id=task_id)


def _fan_out(run_id: int, parts, then) -> None:
    """Send ``parts`` as a chord whose body is ``then``, recording first, as _then does, the group
    id every part's message carries (a chord's task_id names its group) and the id of ``then``."""
    group_id, then_id = uuid(), uuid()
    runs.record_next_steps(run_id, [group_id, then_id])
    chord(parts, then, task_id=group_id).apply_async(task_id=then_id)


def _run(run_id: int | None) -> TaskRun | None:
    return TaskRun.objects.select_related("project").filter(pk=run_id).first() if run_id else None


def _alive(run: TaskRun | None, kind: str = runs.RETRAIN) -> bool:
    """False when the run was failed (by an earlier step or as stale; later steps stop), or is
    not of the kind the task serves (a stray message never drives another kind of run)."""
    return run is not None and run.kind == kind and run.state in (TaskRun.PENDING, TaskRun.RUNNING)


@shared_task(**TASK_OPTIONS)
def run_retrain(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run):
        return
    project = run.project
    runs.update_run(run_id, state=TaskRun.RUNNING, progress=0.0, message="Embedding new items.", stage="embed")
    todo = embedding.unembedded_item_ids(project)
    chunks = embed_chunks(todo)
    runs.update_run(run_id, to_embed=len(todo))
    if not chunks:
        _then(run_id, train_model, run_id)
        return
    share = runs.stage_progress("embed", 1.0) / len(chunks)
    _fan_out(run_id, (embed_items.si(chunk, run_id, share) for chunk in chunks), train_model.si(run_id))


@shared_task(**TASK_OPTIONS)
def embed_items(item_ids: list[int], run_id: int | None = None, progress_share: float = 0.0) -> int:
    try:
        with runs.heartbeat(run_id):
            encoded = embedding.embed_items(item_ids)
            run = _run(run_id)
            if run is not None and run.kind == runs.EMBED:
                # An import's items get the active model's stored scores now (a retrain rescores the pool).
                _score_imported(run, item_ids)
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the chord body sees it and stops
        log.exception("embedding failed")
        if run_id:
            runs.fail_run(run_id, f"Embedding failed: {describe_error(exc)}")
        return 0
    if run_id:
        runs.add_progress(run_id, progress_share)
    return encoded


def _score_imported(run: TaskRun, item_ids: list[int]) -> None:
    """Store the active model's scores of an import's newly embedded items. A failure here is
    recorded on the run and logged, never fails the embedding: the planner scores items without a
    stored score on the fly, and the next retrain stores them."""
    try:
        scored = score_new_items(run.project, item_ids)
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("scoring imported items failed")
        runs.update_run(run.pk, scoring_error=f"Scoring the new items failed: {describe_error(exc)}")
        return
    log.info("stored %s scores of imported items (TaskRun %s)", scored, run.pk)


@shared_task(**TASK_OPTIONS)
def start_embedding(run_id: int) -> None:
    """After an import: embed the project's new items in chunks of LONGTAIL_EMBED_CHUNK on the
    embed queue (every worker serving it takes chunks), then finish_embedding closes the run."""
    run = _run(run_id)
    if not _alive(run, runs.EMBED):
        return
    todo = embedding.unembedded_item_ids(run.project)
    chunks = embed_chunks(todo)
    # stage "embed": the run left the queue (a failed run keeps the stage it failed in)
    runs.update_run(run_id, state=TaskRun.RUNNING, progress=0.0, to_embed=len(todo), chunks=len(chunks),
                    message=f"Embedding {len(todo)} items in {len(chunks)} chunk(s).", stage="embed")
    if not chunks:
        _then(run_id, finish_embedding, run_id)
        return
    _fan_out(run_id, (embed_items.si(chunk, run_id, 1.0 / len(chunks)) for chunk in chunks), finish_embedding.si(run_id))


@shared_task(**TASK_OPTIONS)
def finish_embedding(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run, runs.EMBED):
        return
    pipeline.finish_embedding(run)


@shared_task(**TASK_OPTIONS)
def embed_project(project_id: int, run_id: int | None = None) -> int:
    project = Project.objects.get(pk=project_id)
    if run_id:
        runs.update_run(run_id, state=TaskRun.RUNNING, message="Embedding items.", stage="embed")
    try:
        with runs.heartbeat(run_id):
            done = embedding.embed_project(
                project, on_progress=(lambda share: runs.update_run(run_id, progress=share)) if run_id else None
            )
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("embedding failed")
        if run_id:
            runs.fail_run(run_id, f"Embedding failed: {describe_error(exc)}")
        return 0
    if run_id:
        runs.update_run(run_id, state=TaskRun.DONE, progress=1.0, message=f"Embedded {done} texts.",
                            finished=True)
    return done


@shared_task(**TASK_OPTIONS)
def train_model(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run):
        return
    runs.update_run(run_id, progress=runs.stage_progress("train", 0.0), message="Training.", stage="train")
    kept = versions.final_model_with_current_labels(run.project)
    if kept is not None:
        # Nothing newer to learn from: the fine-tuned model keeps serving (docs/loop.md, "One training per project").
        runs.update_run(run_id, training="kept_final", kept_model_version=kept.number,
                        message=f"Final model v{kept.number} was trained on these same labels; it keeps serving.")
        _then(run_id, plan_after_retrain, run_id)
        return
    try:
        with runs.heartbeat(run_id):
            version = versions.train_version(run.project, run_id=run_id)
    except TRANSIENT:
        raise
    except versions.NotEnoughLabels as exc:
        # the reason is kept in the detail: the run's final message shows it (runs.close_run)
        runs.update_run(run_id, message=str(exc), training="skipped", training_note=str(exc))
        _then(run_id, plan_after_retrain, run_id)
        return
    except Exception as exc:  # noqa: BLE001 - the version is FAILED; the previous one stays active
        versions.log_training_failure(log, "training failed", exc)
        runs.update_run(run_id, training="failed", error=f"Training failed: {describe_error(exc)}")
        _then(run_id, plan_after_retrain, run_id)
        return
    runs.update_run(run_id, progress=runs.stage_progress("score", 0.0), message="Scoring the pool.",
                        stage="score", model_version=version.number, model_version_id=version.id)
    chunks = scores.score_chunks(run.project, chunk_size=SCORE_CHUNK)
    if not chunks:
        _then(run_id, finish_scoring, version.id, run_id)
        return
    share = (runs.stage_progress("score", 1.0) - runs.stage_progress("score", 0.0)) / len(chunks)
    _fan_out(run_id, (score_chunk.si(version.id, lo, hi, run_id, share) for lo, hi in chunks),
             finish_scoring.si(version.id, run_id))


@shared_task(**TASK_OPTIONS)
def score_chunk(version_id: int, id_min: int, id_max: int, run_id: int | None = None, progress_share: float = 0.0):
    version = ModelVersion.objects.select_related("project").get(pk=version_id)
    try:
        with runs.heartbeat(run_id):
            n = scores.score_range(version, id_min, id_max)
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("scoring failed")
        if run_id:
            runs.update_run(run_id, scoring="failed", error=f"Scoring failed: {describe_error(exc)}")
        return 0
    if run_id:
        runs.add_progress(run_id, progress_share)
    return n


@shared_task(**TASK_OPTIONS)
def score_version(version_id: int) -> int:
    """Rescore the whole pool under one version (idempotent: rows are replaced, never duplicated)."""
    version = ModelVersion.objects.select_related("project").get(pk=version_id)
    return scores.score_version(version, chunk_size=SCORE_CHUNK)


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
        try:
            versions.activate_version(version, run_id=run_id)
        except versions.VersionAbandoned:
            log.warning("not activating %s v%s: its run %s ended meanwhile", version.project.slug, version.number, run_id)
            return
        with runs.heartbeat(run_id):
            routed = review.route_low_confidence(version)
        if run_id:
            runs.update_run(run_id, review_routed=routed)
        train_label_issues.apply_async(args=[version.id])
    if run_id:
        _then(run_id, plan_after_retrain, run_id)


@shared_task(**TASK_OPTIONS)
def route_review_again(project_id: int) -> dict | None:
    """Route the review queue again with the active model (the band or the review share changed):
    the open low-confidence tasks are re-judged under the new settings and the queue trimmed or
    filled to the new cap, and the open label issues trimmed to the new maximum (only a retrain's
    scan opens new ones). Nothing without an active model."""
    version = ModelVersion.objects.select_related("project").filter(project_id=project_id,
                                                                      state=ModelVersion.ACTIVE).first()
    if version is None:
        return None
    routing = asdict(review.route_review(version))
    return {**routing, "label_issues": asdict(trim_label_issues(project_id))}


@shared_task(**TASK_OPTIONS)
def train_label_issues(version_id: int) -> dict | None:
    """Out-of-fold models of the new version's options look for mislabeled items (train queue:
    it fits one model per fold). Runs beside the planning; a failure is logged, nothing else."""
    version = ModelVersion.objects.select_related("project").get(pk=version_id)
    if version.state != ModelVersion.ACTIVE:
        return None  # replaced already: the newer version's scan counts
    try:
        return asdict(label_issues.scan_label_issues(version))
    except TRANSIENT:
        raise
    except Exception:  # noqa: BLE001
        log.exception("the label-issue scan of %s v%s failed", version.project.slug, version.number)
        return None


@shared_task(**TASK_OPTIONS)
def plan_after_retrain(run_id: int) -> None:
    run = _run(run_id)
    if not _alive(run):
        return
    runs.update_run(run_id, progress=runs.stage_progress("plan", 0.0), message="Planning.", stage="plan")
    with runs.heartbeat(run_id):
        followup = pipeline.finish_retrain(run)
    if followup is not None:  # a retrain asked for while this one trained, created instead of planning
        try:
            runs.record_task_id(followup, run_retrain.apply_async(args=[followup]).id)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, and the next wave opens
            pipeline.followup_not_sent(run.project_id, followup, exc)


@shared_task(**TASK_OPTIONS)
def train_final(run_id: int) -> None:
    """The final model (labeling.modeling.final): fine-tune, train, and serve it only when it beats
    the frozen model out of fold. On the ``train`` queue (the GPU worker where one runs). Once it
    has ended (done or failed; not when a transient error retries it), a retrain requested while
    it trained is queued."""
    run = _run(run_id)
    try:
        if _alive(run, runs.FINAL_MODEL):
            _train_final(run)
    finally:
        if run is not None and run.kind == runs.FINAL_MODEL and not _alive(_run(run_id), runs.FINAL_MODEL):
            _start_deferred_retrains(run.project)


def _train_final(run: TaskRun) -> None:
    run_id = run.pk
    runs.update_run(run_id, state=TaskRun.RUNNING, progress=0.0, message="Fine-tuning the encoder.", stage="train")
    try:
        with runs.heartbeat(run_id):
            version, routed = pipeline.train_and_serve_final(run, chunk_size=SCORE_CHUNK)
            if version is None:
                return
    except TRANSIENT:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded; the frozen model stays active
        versions.log_training_failure(log, "final model failed", exc)
        runs.fail_run(run_id, f"Final model failed: {describe_error(exc)}")
        return
    runs.update_run(run_id, state=TaskRun.DONE, progress=1.0, finished=True, stage="done", served=True,
                    review_routed=routed, message=f"Final model v{version.number} active: "
                                                  f"{final.comparison_sentence(version)}.")
    train_label_issues.apply_async(args=[version.id])  # as after a retrain's activation (its failure: logged)


def _start_deferred_retrains(project: Project) -> None:
    """Send the first task of each retrain that waited for the project's final model (the
    pipeline's own next step, as train_model sends finish_scoring)."""
    for run_id in runs.claim_deferred_retrains(project):
        try:
            run_retrain.apply_async(args=[run_id])
        except Exception as exc:  # noqa: BLE001 - recorded on the run; the next request starts afresh
            log.exception("could not queue the deferred retrain %s", run_id)
            runs.fail_run(run_id, f"Could not queue the work (is the broker up?): {describe_error(exc)}",
                          queue_error=True)


@shared_task(soft_time_limit=settings.LONGTAIL_TASK_SOFT_TIME_LIMIT, time_limit=settings.LONGTAIL_TASK_TIME_LIMIT)
def import_file(batch_id: int, path: str, skip_invalid: bool = False, rejects_path: str | None = None) -> dict:
    """Run an uploaded file's import (import_steps.import_upload: the claim, the import, the
    upload's removal)."""
    return import_steps.import_upload(batch_id, path, skip_invalid=skip_invalid, rejects_path=rejects_path)


# Names these tasks had before they moved here (learner.tasks, labeling.items.tasks): a message a
# running system queued under an old name is still accepted after an upgrade.
LEGACY_NAMES = {
    "learner.tasks.run_retrain": run_retrain,
    "learner.tasks.embed_items": embed_items,
    "learner.tasks.embed_project": embed_project,
    "learner.tasks.train_model": train_model,
    "learner.tasks.score_chunk": score_chunk,
    "learner.tasks.score_version": score_version,
    "learner.tasks.finish_scoring": finish_scoring,
    "learner.tasks.plan_after_retrain": plan_after_retrain,
    "labeling.items.tasks.import_file": import_file,
}
for _old_name, _task in LEGACY_NAMES.items():
    # The undecorated function (``run`` is already wrapped by autoretry): same code, same options
    # (the import task has no autoretry and no message claim: a redelivery finds its batch claimed,
    # import_steps.claim_import, and imports nothing).
    shared_task(name=_old_name, **({} if _task is import_file else TASK_OPTIONS))(
        getattr(_task, "_orig_run", _task.run))


@worker_init.connect
def _worker_keeps_pools(**kwargs) -> None:
    # Workers keep whole pools in memory between steps (see labeling.modeling.embedding_store).
    embedding_store.WORKER_PROCESS = True


@worker_init.connect
def _worker_yields_cpu(**kwargs) -> None:
    # Before the pool forks: its processes inherit the priority. Only ever lowered (raising it
    # back needs privileges a container rarely has).
    lower_by = settings.LONGTAIL_WORKER_NICE - os.nice(0)
    if lower_by > 0:
        os.nice(lower_by)
