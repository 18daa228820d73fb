"""Re-planning the wave that waits to be opened as soon as it is stale (labeling.waves.discard):
a new model is active, or a setting that shapes a wave changed.

A lead may plan the next wave while one is open; it waits until that one is closed. Without this,
it was replaced only when the loop next opened a wave or a lead planned, so until then the pages
showed the old model's plan as what comes next. The loop calls ``replan_waiting`` after a model is
activated (the retrain's last step, the final model's) and, through a task enqueued on commit
(labeling.loop.replanning.request_replan), after the settings change.

Only planned waves are ever replaced: an open wave's picks are never touched (the discard changes a
wave only while it is still planned, under the project's row lock that opening takes too).
"""
from __future__ import annotations

import logging

from django.db import transaction

from labeling.modeling.versions import active_model
from labeling.projects.locks import hold_labels
from labeling.projects.models import Project

from . import discard, services
from .models import Wave

log = logging.getLogger(__name__)


def replan_waiting(project_id: int) -> Wave | None:
    """Discard the project's stale planned wave and plan a new one with the active model and the
    settings as they are; the new wave waits as the old one did (it is not opened). Returns it,
    with ``replaced`` (what was discarded); None when no planned wave is stale (or the project is
    gone).

    When the new plan fails (nothing to plan under the new settings, or an error), the waiting plan
    is kept as it was, and its report["replan_failed"] says with which model and why; the returned
    wave is that plan, with ``replan_failed``. It stays stale, so the next open or plan tries again.
    Runs under the project's row lock, in the caller's transaction when there is one."""
    with transaction.atomic():
        # A fresh copy, under the lock plans take: the plan is made with the settings as saved.
        project = Project.objects.select_for_update().filter(pk=project_id).first()
        if project is None:
            return None
        hold_labels(project)  # labels before picks, as every planning path takes them
        version = active_model(project)
        stale = discard.stale_plans(project, version)
        if not stale:
            return None
        try:
            with transaction.atomic():  # the discard stands only with a new plan in its place
                return services.plan_next_wave(project)
        except Exception as exc:  # noqa: BLE001 - kept as it was: a stale plan beats none while one is open
            log.warning("re-planning the waiting wave of %s failed; it waits as it was", project.slug, exc_info=True)
            return services.keep_stale_plan(stale[-1], version, exc)


def replanned_note(wave: Wave | None) -> str:
    """"planned wave 2 (…) discarded: …; wave 3 planned in its place (20 items, model v3)", why the
    waiting plan was kept, or "" when nothing was stale: for the run's message."""
    if wave is None:
        return ""
    failed = getattr(wave, "replan_failed", None)
    if failed:
        return (f"planned wave {wave.number} is stale, and planning it afresh with {failed['model']} failed "
                f"({failed['error']}): it waits as it was planned")
    gone = discard.discarded_text(getattr(wave, "replaced", []))
    return f"{gone}; wave {wave.number} planned in its place ({wave.size} items, {discard.model_name(wave)})"
