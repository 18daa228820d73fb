"""The loop's reactions to what annotators and leads do to a wave's picks: a completed open wave
closes and starts the retrain pipeline (which plans the next wave when none is open), and
``retrain_every`` new labels since the last retrain start one too.

A wave completes when its last pick has its answers: usually by an answer (``answer_saved``), but
also when a lead's exclusion takes the last unanswered picks out of an open wave
(``picks_withdrawn``; ``labeling.waves.discard.take_out_excluded``); before, nothing then closed it
until some later answer."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from labeling.modeling import selectors as modeling_selectors
from labeling.projects.models import Project
from labeling.waves import selectors as wave_selectors
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from .runs import last_retrain_run
from .triggers import queue_failed, request_retrain

log = logging.getLogger(__name__)
# After a retrain the broker refused, answers try again only this much later (retrain_every).
QUEUE_RETRY_AFTER = timedelta(minutes=1)


def on_answer_saved(sender=None, *, project, item, wave_item=None, **kwargs) -> None:
    """answer_saved receiver. The answer is already stored when this runs: a failure here is
    logged, never reported to the annotator as a failed save."""
    try:
        _react_to_answer(project, item, wave_item)
    except Exception:
        log.exception("the loop could not react to an answer in project %s", getattr(project, "slug", project))


def on_picks_withdrawn(sender=None, *, project, **kwargs) -> None:
    """picks_withdrawn receiver: an open wave the withdrawal left complete (or with no picks) closes and retrains. The
    exclusion is already stored: a failure here is logged, never reported as a failed exclusion."""
    try:
        for wave_id in Wave.objects.filter(project=project, state=Wave.OPEN).values_list("pk", flat=True):
            if _close_if_complete(project, wave_id):
                return
    except Exception:
        log.exception("the loop could not react to picks withdrawn in project %s", getattr(project, "slug", project))


def _close_if_complete(project: Project, wave_id: int) -> bool:
    """Close the wave and request its retrain when it is open and complete, checked under the
    project lock (the planner and a lead's close take it too)."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        wave = Wave.objects.get(pk=wave_id)
        # A wave left with no picks at all (every item of it deleted or excluded) asks nothing more
        # either: left open, it would hold the loop for good.
        emptied = not WaveItem.objects.filter(wave=wave).exists()
        if wave.state == Wave.OPEN and (emptied or wave_selectors.wave_is_complete(wave)):
            waves.close_wave(wave)
            request_retrain(project, reason="wave_complete")
            return True
    return False


def _react_to_answer(project: Project, item, wave_item=None) -> None:
    if wave_item is not None and wave_item.wave.state == Wave.OPEN:
        # The answer's own pick, with its slot counts as the answer left them under the lock.
        pick, pick_complete = wave_item, wave_item.slots_done >= wave_item.overlap
    else:
        pick = (
            WaveItem.objects.filter(wave__project=project, wave__state=Wave.OPEN, item=item)
            .select_related("wave")
            .first()
        )
        pick_complete = pick is not None and wave_selectors.pick_is_complete(pick)
    # Checked first without the project lock (answers on one wave must not queue on it), then
    # again under it.
    if pick_complete and wave_selectors.wave_is_complete(pick.wave) and _close_if_complete(project, pick.wave_id):
        return
    every = project.retrain_every
    if every:
        newest = last_retrain_run(project)
        refused = newest is not None and queue_failed(newest)
        if refused and newest.created_at > timezone.now() - QUEUE_RETRY_AFTER:
            return  # the broker refused the last one a moment ago: not one failed run per answer
        # usually the newest run reached the broker: one query per answer, not two
        last = last_retrain_run(project, queued_only=True) if refused else newest
        if modeling_selectors.labels_since(project, last.created_at if last else None) >= every:
            request_retrain(project, reason="retrain_every")
