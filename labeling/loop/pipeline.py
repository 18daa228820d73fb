"""Synchronous steps of the loop that several callers share: the demo's first wave, the
retrain pipeline's last step (plan and open the next wave, close the run), the final model's steps."""
from __future__ import annotations

import logging
import threading

from django.db import connection, transaction

from labeling.modeling import final, review, scores, versions
from labeling.modeling import selectors as modeling_selectors
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project
from labeling.waves import discard, replan
from labeling.waves import selectors as wave_selectors
from labeling.waves import services as waves

from .errors import describe_error
from .runs import RETRAIN, close_run, fail_run, note_run, open_retrain_run, update_run

log = logging.getLogger(__name__)
# Retrains of a wave that ended (completed, or closed by a lead asking for a retrain): when one
# fails, the next wave opens with the current model, so annotators keep working.
WAVE_ENDED = ("wave_complete", "wave_closed")
# How a run's message names the requests a follow-up retrain answers.
FOLLOWUP_REASONS = {"wave_complete": "a wave completed", "wave_closed": "a wave closed to retrain",
                    "retrain_every": "new labels (retrain every N)", "manual": "a lead's retrain",
                    "requeued": "an interrupted run queued again"}


def plan_first_wave(project: Project):
    """Demo setup: embed the pool, plan the cold-start wave and open it for annotators.
    Returns the open wave (the existing one when the project already has one)."""
    current = wave_selectors.current_wave(project)
    if current is not None:
        return current
    # planning embeds the items without a vector first (waves.pool.embed_missing)
    return waves.plan_and_open_if_idle(project)  # opens a wave already planned with the current model


def finish_retrain(run: TaskRun) -> int | None:
    """Last step: when no wave is open, plan and open the next one, then close the run.

    Runs under the project's row lock, the same lock :func:`request_retrain` takes, so a wave
    that completes while this run is finishing either is seen here or starts a new run. A retrain
    asked for after this run read its labels (a wave completed, a lead's retrain after a settings
    change) was recorded on the project: when the model now serving lacks what came in since, one
    follow-up retrain is created instead of planning, and it plans the next wave with a model that
    learned it (:func:`_queue_followup`): its run id is returned, for the caller to send its first
    task once this has committed (None otherwise).
    """
    notes = []
    try:
        with transaction.atomic():
            project = Project.objects.select_for_update().filter(pk=run.project_id).first()
            reasons = _followup_due(project, run)
            if reasons:
                return _queue_followup(project, run, reasons)
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


def _followup_due(project: Project, run: TaskRun) -> list[str]:
    """The reasons of the retrains asked for after ``run`` read its labels, when the active model has
    not learned the project's labels and settings as they are now ([] otherwise: nothing it would
    learn). The request is consumed either way. Called under the project's row lock."""
    asked = (project.retrain_followup or {}) if project is not None else {}
    if not asked:
        return []
    Project.objects.filter(pk=project.pk).update(retrain_followup={})
    if asked.get("after") != run.pk:
        return []  # asked of a run that ended without this step; the run after it read everything afresh
    active = versions.active_model(project)
    learned = (active.config or {}).get("labels_digest") if active is not None else None
    if learned and learned == versions.labels_digest(project, modeling_selectors.training_set(project)):
        return []
    return list(asked.get("reasons") or ["manual"])


def _queue_followup(project: Project, run: TaskRun, reasons: list[str]) -> int:
    """Close ``run`` and create the one follow-up retrain, pending (in the caller's transaction,
    under the project's row lock); returns its id. Its reason is a wave's end when one of the
    requests was, so that it plans the next wave whatever happens to it (tasks' own fallback)."""
    reason = next((r for r in reasons if r in WAVE_ENDED), reasons[0])
    asked = ", ".join(FOLLOWUP_REASONS.get(r, r) for r in reasons)
    note = f"a retrain was asked for while it trained ({asked}): follow-up retrain queued"
    close_run(run, [note])  # first: one retrain open per project (the constraint), and this one has ended
    followup = TaskRun.objects.create(project=project, kind=RETRAIN, message=f"Queued: follow-up of task {run.pk}.",
                                      detail={"reason": reason, "stage": "queued", "follow_up_of": run.pk,
                                              "asked_meanwhile": reasons})
    ended = TaskRun.objects.get(pk=run.pk).message
    note_run(run.pk, follow_up=followup.pk, message=ended.replace(
        note, f"{note} as task {followup.pk}; the next wave is planned with its model", 1))
    return followup.pk


def followup_not_sent(project_id: int, run_id: int, exc: Exception) -> None:
    """The follow-up retrain's first task could not be sent (or, in eager mode, raised): the run
    fails with the reason and the next wave opens with the model that serves, as after any retrain
    that could not be queued."""
    log.exception("could not queue the follow-up retrain %s", run_id)
    fail_run(run_id, f"Could not queue the follow-up retrain (is the broker up?): {describe_error(exc)}",
             queue_error=True)
    plan_without_retrain(project_id, run_id, then="ask for a retrain again")


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
                message += f" {_plan_as_asked(run)}"
            update_run(run.id, state=TaskRun.DONE, progress=1.0, message=message, finished=True, stage="done")
    except waves.NothingToPlan as exc:
        update_run(run.id, state=TaskRun.DONE, progress=1.0, message=f"{message} Nothing planned: {exc}",
                   finished=True, stage="done")
    except Exception as exc:
        log.exception("planning after embedding failed")
        fail_run(run.id, f"{message} Planning failed: {describe_error(exc)}")


def _plan_as_asked(run: TaskRun) -> str:
    """What a lead's "Plan next wave" asked while the items embedded, done now as the plan request
    does it (plan, then open only when no wave is open; a wave open meanwhile does not drop it), in
    words for the run's message. NothingToPlan is the caller's (its message says why)."""
    wave = waves.plan_next_wave(run.project)
    opened = waves.open_wave_if_idle(run.project, wave)
    update_run(run.id, wave=wave.number, wave_id=wave.id)
    gone = discard.discarded_text(getattr(wave, "replaced", []))
    if opened:
        text = f"Wave {wave.number} planned and opened ({wave.size} items)"
    else:  # another wave is open (open_wave_if_idle): the plan waits for it, as the plan request's does
        text = (f"Wave {wave.number} planned as asked ({wave.size} items); it waits to be opened once wave "
                f"{wave_selectors.current_wave(run.project).number} is closed")
    return f"{text}{f'; {gone}' if gone else ''}.{wave_selectors.planning_sentences(wave.report)}"


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
