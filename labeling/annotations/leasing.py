"""Leasing: handing annotators batches of wave items, renewing and expiring their leases.

* **Slots.** A wave item needs ``WaveItem.overlap`` answers from different annotators. A slot is
  held by an answered or skipped assignment (``done``/``skipped``) or by an unexpired lease; an
  expired lease frees it. A skip is the item's answer for this wave, as the planner counts wave
  completion (skips included); the item stays unlabeled, so a later wave may pick it again for
  someone else. An annotator never gets an item they hold, answered or skipped; an item whose
  lease expired unanswered may come back to them (otherwise a lone annotator who paused would
  strand it), and never while another annotator fills its slot.
* **Locking.** Leasing locks candidate wave items with ``SELECT … FOR UPDATE SKIP LOCKED`` and
  then recounts their slots in a fresh statement: every write that takes a slot holds the wave
  item's row lock until it commits, so the recount sees all of them (PostgreSQL, READ COMMITTED).
  SQLite ignores the locking clause but serialises writers, which gives the same outcome.
"""
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.projects.models import Project
from labeling.waves.models import Wave, WaveItem

from .models import Assignment


@dataclass
class LeasedBatch:
    assignments: list[Assignment]
    resumed: bool  # True: the annotator's still-valid lease was handed back instead of a new one


def lease_expiry(now=None):
    return (now or timezone.now()) + timedelta(seconds=settings.LONGTAIL_LEASE_SECONDS)


def live_slot_q(now) -> Q:
    """Assignments that hold one of a wave item's slots."""
    return Q(state__in=[Assignment.DONE, Assignment.SKIPPED]) | Q(state=Assignment.LEASED, expires_at__gt=now)


def expire_stale_leases(project: Project, now=None) -> int:
    """Expired leases go back to the pool."""
    now = now or timezone.now()
    return Assignment.objects.filter(
        wave_item__wave__project=project, state=Assignment.LEASED, expires_at__lte=now
    ).update(state=Assignment.EXPIRED)


def _with_related(queryset):
    return queryset.select_related(
        "wave_item__item__source", "wave_item__wave", "wave_item__predicted_label"
    )


def _held_assignments(project: Project, user, now) -> list[Assignment]:
    return list(
        _with_related(
            Assignment.objects.filter(
                annotator=user, state=Assignment.LEASED, expires_at__gt=now,
                wave_item__wave__project=project, wave_item__wave__state=Wave.OPEN,
            )
        ).order_by("leased_at", "batch_key", "position", "pk")
    )


def _candidates(project: Project, user, now, exclude_ids, limit):
    """Wave items in lease order that seem to need this annotator, locked, skipping locked rows."""
    live_count = (
        Assignment.objects.filter(wave_item=OuterRef("pk")).filter(live_slot_q(now))
        .order_by().values("wave_item").annotate(n=Count("pk")).values("n")
    )
    # Never the same item twice: not if this annotator holds, answered or skipped it (any wave).
    seen_by_user = Assignment.objects.filter(
        annotator=user, wave_item__item_id=OuterRef("item_id"),
        state__in=[Assignment.LEASED, Assignment.DONE, Assignment.SKIPPED],
    )
    return list(
        WaveItem.objects.filter(wave__project=project, wave__state=Wave.OPEN)
        .exclude(pk__in=exclude_ids)
        .annotate(live=Coalesce(Subquery(live_count, output_field=IntegerField()), Value(0)))
        .filter(live__lt=F("overlap"))
        .exclude(Exists(seen_by_user))
        .order_by("wave__number", "batch_number", "position", "pk")
        # of=("self",): lock the wave items only, never the shared wave row.
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


def lease_batch(project: Project, user, *, size: int | None = None) -> LeasedBatch:
    """The annotator's current batch if they still hold one, else the next items of the open
    wave(s) in (wave, batch_number, position) order, up to ``size`` (default: the project's)."""
    size = size or project.batch_size
    for attempt in range(2):
        try:
            return _lease_batch_once(project, user, size)
        except IntegrityError:
            # The same annotator leased in another tab at the same moment; the retry hands
            # back whatever that lease got.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _lease_batch_once(project: Project, user, size: int) -> LeasedBatch:
    now = timezone.now()
    with transaction.atomic():
        expire_stale_leases(project, now)
        held = _held_assignments(project, user, now)
        if held:
            Assignment.objects.filter(pk__in=[a.pk for a in held]).update(expires_at=lease_expiry(now))
            return LeasedBatch(_held_assignments(project, user, now), resumed=True)

        chosen: list[WaveItem] = []
        chosen_items: set[int] = set()
        examined: set[int] = set()
        while len(chosen) < size:
            locked = _candidates(project, user, now, examined, size - len(chosen))
            if not locked:
                break
            examined.update(w.pk for w in locked)
            # Recount now that the rows are ours: a lease committed between our snapshot and
            # our lock is visible to this new statement.
            fresh = dict(
                Assignment.objects.filter(wave_item_id__in=[w.pk for w in locked]).filter(live_slot_q(now))
                .order_by().values("wave_item").annotate(n=Count("pk")).values_list("wave_item", "n")
            )
            for wave_item in locked:
                if fresh.get(wave_item.pk, 0) < wave_item.overlap and wave_item.item_id not in chosen_items:
                    chosen.append(wave_item)
                    chosen_items.add(wave_item.item_id)

        batch_key = uuid.uuid4()
        expires = lease_expiry(now)
        Assignment.objects.bulk_create(
            Assignment(wave_item=w, annotator=user, batch_key=batch_key, position=i, expires_at=expires)
            for i, w in enumerate(chosen)
        )
        leased = list(_with_related(Assignment.objects.filter(batch_key=batch_key)).order_by("position"))
    return LeasedBatch(leased, resumed=False)


def renew_leases(project: Project, user) -> int:
    """Extend the annotator's unexpired leases in the project (the page calls this while a batch
    is open). An expired lease is not revived: its slot may belong to someone else by now."""
    now = timezone.now()
    return Assignment.objects.filter(
        annotator=user, state=Assignment.LEASED, expires_at__gt=now, wave_item__wave__project=project
    ).update(expires_at=lease_expiry(now))
