"""Synchronous steps of the loop that several callers share: the demo's first wave, the
retrain pipeline's last step (plan and open the next wave, close the run), the final model's steps."""
from __future__ import annotations

import logging
import threading

from django.db import connection, transaction

from labeling.modeling import final, review, scores, versions
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project
from labeling.waves import replan
from labeling.waves import selectors as wave_selectors
from labeling.waves import services as waves

from .errors import describe_error
from .runs import close_run, fail_run, note_run, open_retrain_run, update_run

log = logging.getLogger(__name__)


def plan_first_wave(project: Project):
    """Demo setup: embed the pool, plan the cold-start wave and open it for annotators.
    Returns the open wave (the existing one when the project already has one)."""
    current = wave_selectors.current_wave(project)
    if current is not None:
        return current
    # planning embeds the items without a vector first (waves.pool.embed_missing)
    return waves.plan_and_open_if_idle(project)  # opens a wave already planned with the current model


def finish_retrain(run: TaskRun) -> None:
    """Last step: when no wave is open, plan and open the next one, then close the run.

    Runs under the project's row lock, the same lock :func:`request_retrain` takes, so a wave
    that completes while this run is finishing either is seen here or starts a new run.
    """
    notes = []
    try:
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=run.project_id).first()
            wave = waves.plan_and_open_if_idle(run.project)
            if wave is not None:
                notes.append(waves.opened_note(wave))  # and the stale planned waves it replaced
                update_run(run.id, wave=wave.number, wave_id=wave.id)
            else:
                notes.append("a wave is already open")
                # the plan waiting behind it was made with the model this run replaced (or the
                # settings changed meanwhile): what the pages show as next is re-planned now
                replanned = replan.replanned_note(replan.replan_waiting(run.project_id))
                notes += [replanned] if replanned else []
            close_run(run, notes)
    except waves.NothingToPlan as exc:
        notes.append(str(exc))
        update_run(run.id, planning="nothing to plan")
        close_run(run, notes)
    except Exception as exc:
        log.exception("planning failed")
        fail_run(run.id, f"Planning failed: {describe_error(exc)}")


def finish_embedding(run: TaskRun) -> None:
    """Close an import's embedding run. When a lead asked to plan while it ran, plan and open the
    next wave now (under the project's row lock; not while a retrain runs, which plans itself)."""
    detail = run.detail or {}
    embedded = int(detail.get("to_embed", 0))
    message = f"Embedded {embedded} items."
    active = versions.active_model(run.project)
    if active is not None and embedded:
        # the import's items now have stored scores: the review share's pool grew, and doubtful
        # new items belong in the queue as the band and thresholds say
        try:
            message += f" Review queue re-routed ({review.route_low_confidence(active)} new low-confidence tasks)."
        except Exception:  # noqa: BLE001  (the next activation or settings change routes again)
            log.exception("routing the review queue after an import failed")
    try:
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=run.project_id).first()
            if detail.get("plan_when_done") and open_retrain_run(run.project) is None:
                wave = waves.plan_and_open_if_idle(run.project)
                if wave is not None:
                    message += f" Wave {wave.number} planned and opened ({wave.size} items)."
                    update_run(run.id, wave=wave.number, wave_id=wave.id)
            update_run(run.id, state=TaskRun.DONE, progress=1.0, message=message, finished=True, stage="done")
    except waves.NothingToPlan as exc:
        update_run(run.id, state=TaskRun.DONE, progress=1.0, message=f"{message} Nothing planned: {exc}",
                   finished=True, stage="done")
    except Exception as exc:
        log.exception("planning after embedding failed")
        fail_run(run.id, f"{message} Planning failed: {describe_error(exc)}")


def plan_without_retrain(project_id: int, run_id: int, *, then: str = "retrain once the broker is back") -> None:
    """A completed wave's retrain run failed (the broker could not take it; in eager mode, it or
    its planning failed in-process): plan and open the next wave with the current model (under the
    project's row lock, when no wave is open and no retrain runs), and say so on the failed run,
    with ``then`` (what to do next, when no model was activated: _fallback_note). Never raises: it
    runs after the answer was answered."""
    try:
        with transaction.atomic():
            project = Project.objects.select_for_update().filter(pk=project_id).first()
            if project is None or open_retrain_run(project) is not None:
                return
            wave = waves.plan_and_open_if_idle(project)
            run = TaskRun.objects.filter(pk=run_id).first()
            if wave is not None and run is not None:
                note_run(run_id, message=f"{_fallback_note(run, wave, then)} {run.message}", fallback_wave=wave.number)
    except waves.NothingToPlan as exc:
        log.warning("no wave after a failed retrain queue: %s", exc)
    except Exception:
        log.exception("planning without a retrain failed")


def _fallback_note(run: TaskRun, wave, then: str) -> str:
    """What the fallback wave was opened with. A run fails after its model was activated too (in
    eager mode, planning failing at the end of a good retrain): the new model serves, and the
    wave was planned with it, so "no retrain; ask for a retrain again" would be untrue."""
    version = ModelVersion.objects.filter(pk=(run.detail or {}).get("model_version_id"),
                                          state__in=[ModelVersion.ACTIVE, ModelVersion.RETIRED]).first()
    if version is None:
        return f"Wave {wave.number} was opened with the current model instead (no retrain; {then})."
    return (f"The retrain succeeded (model v{version.number} trained and activated) but planning the next wave failed; wave "
            f"{wave.number} was opened with v{version.number} on a second try.")


def plan_without_retrain_in_background(project_id: int, run_id: int) -> None:
    """:func:`plan_without_retrain` from a thread of this process (the broker is down: the web
    request that completed the wave answers at once, and annotators keep working)."""
    def work():
        try:
            plan_without_retrain(project_id, run_id)
        finally:
            connection.close()

    threading.Thread(target=work, name=f"plan-without-retrain-{project_id}", daemon=True).start()


def train_and_serve_final(run: TaskRun, *, chunk_size: int):
    """The final model task's steps (under its heartbeat): (version, routed), or (None, None) when
    the fine-tuned model did not beat the frozen one (recorded on the run)."""
    run_id = run.pk
    version = final.train_final_version(run.project, run_id=run_id, on_progress=lambda share, message: (
        update_run(run_id, progress=0.8 * share, message=f"Final model: {message}.")))
    update_run(run_id, model_version=version.number, model_version_id=version.id)
    if not final.beats_frozen(version):
        update_run(run_id, state=TaskRun.DONE, progress=1.0, finished=True, stage="done", served=False,
                   message=f"Final model v{version.number} trained but not served: "
                           f"{final.comparison_sentence(version)}.")
        return None, None
    if not update_run(run_id, progress=0.8, message="Embedding the pool with the fine-tuned encoder.", stage="embed"):
        raise versions.VersionAbandoned(f"final model v{version.number}: its run (task {run_id}) ended meanwhile")
    final.embed_pool_for(version, on_progress=lambda share: update_run(run_id, progress=0.8 + 0.1 * share))
    update_run(run_id, progress=0.9, message="Scoring the pool.", stage="score")
    scores.score_version(version, chunk_size=chunk_size)
    versions.activate_version(version, run_id=run_id)  # refused if the run was failed as stale meanwhile
    routed = review.route_low_confidence(version)
    try:  # a wave planned ahead with the frozen model is the final model's now
        replan.replan_waiting(version.project_id)
    except Exception:  # noqa: BLE001 - served already; the next open or plan replaces the stale plan
        log.exception("re-planning the waiting wave after the final model failed")
    return version, routed
