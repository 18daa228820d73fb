"""Re-planning the wave that waits to be opened when the settings that shaped it change: the task,
and the request that enqueues it once the settings' transaction commits (labeling.waves.replan).

Beside .tasks and .triggers (both at their size limit), with the same task options; the one other
module that enqueues. LoopConfig.ready imports it, so workers know the task. A new active model re-plans in the step that activated it (.pipeline).
"""
from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from labeling.projects.models import Project
from labeling.waves import pool, replan
from labeling.waves.models import Wave

from .executions import TASK_OPTIONS

log = logging.getLogger(__name__)


@shared_task(**TASK_OPTIONS)
def replan_waiting_wave(project_id: int) -> str:
    """Re-plan the project's waiting wave if it is stale; what was done, in words ("" for nothing)."""
    return replan.replanned_note(replan.replan_waiting(project_id))


def request_replan(project: Project, changed=None) -> None:
    """After a settings change: once the transaction commits, re-plan the project's waiting wave
    in the background if the change made it stale. Nothing is queued without a planned wave, nor
    when ``changed`` (the fields a save changed, when given) holds none that shapes a wave. A
    broker that cannot take it is logged, never fails the save: the wave is re-planned when the
    loop opens it or a lead plans, as it is stale."""
    if changed is not None and not set(changed) & set(pool.PLAN_SETTINGS):
        return
    if not Wave.objects.filter(project=project, state=Wave.PLANNED).exists():
        return

    def send():
        try:
            replan_waiting_wave.apply_async(args=[project.pk])
        except Exception:
            log.exception("could not queue re-planning the waiting wave of %s", project.slug)

    transaction.on_commit(send)
