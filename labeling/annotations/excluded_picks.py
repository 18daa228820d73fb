"""Picks of items a lead excluded while an annotator held them (``labeling.waves.discard``
``take_out_excluded``): once a held slot comes free (its lease ran out, was let go, or its member
left), the pick asks no further answer. Its overlap drops to the slots still held, so the slot is
leased to nobody, and the wave can complete; the loop is told, since no answer may ever come to
close a wave that this left complete (``labeling.loop.reactions.on_picks_withdrawn``)."""
from __future__ import annotations

from django.db import transaction
from django.db.models import F

from labeling.items.signals import picks_withdrawn
from labeling.projects.models import Project
from labeling.waves.models import Wave, WaveItem


def ask_no_more_of_excluded(wave_item_ids) -> None:
    """For picks the caller has locked. One query where none is of an excluded item (nearly always)."""
    if not wave_item_ids:
        return
    rows = list(WaveItem.objects.filter(pk__in=list(wave_item_ids), item__excluded=True,
                                        slots_taken__lt=F("overlap"))
                .values_list("pk", "wave__project_id", "wave__state"))
    if not rows:
        return
    WaveItem.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(overlap=F("slots_taken"))
    for project_id in sorted({project_id for _, project_id, state in rows if state == Wave.OPEN}):
        transaction.on_commit(lambda pk=project_id: _tell_the_loop(pk))


def _tell_the_loop(project_id: int) -> None:
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        picks_withdrawn.send(sender=WaveItem, project=project)
