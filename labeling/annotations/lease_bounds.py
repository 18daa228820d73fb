"""How far a renewal may move a lease: never back, and for a closed wave never past one lease
period after its close.

Closing a wave tells the lead that its leased items come back at most one lease period later
(``labeling.waves.selectors.close_note``), and the lead plans the next wave on that word: the
planner leaves out every item with a live lease. The annotation page renews the leases it shows
whatever their wave's state, so without a bound they stayed out for up to
``LONGTAIL_LEASE_RENEWAL_PERIODS`` lease periods. Bounding them takes nothing from an annotator
who is mid-answer: the lease was live when the wave closed and lasts until the bound, and past it
an answer on the lapsed lease is still stored while its slot is free and the item is in no newer
wave (``services._answerable_assignment``), as for any lease that ran out.
"""
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings

from labeling.waves.models import Wave

from .models import Assignment


def closed_wave_bound(state: str, closed_at: datetime | None) -> datetime | None:
    """The latest expiry a lease of a wave in ``state`` may be given; None for an open wave."""
    if state == Wave.OPEN or closed_at is None:
        return None
    return closed_at + timedelta(seconds=settings.LONGTAIL_LEASE_SECONDS)


def bounded(until: datetime, wave: Wave) -> datetime:
    """``until``, or the wave's bound where it is earlier (a closed wave)."""
    bound = closed_wave_bound(wave.state, wave.closed_at)
    return until if bound is None else min(until, bound)


def extend_live_leases(assignment_ids, until, now) -> int:
    """Move the expiry of those of these leases that are still live (leased, unexpired) on to
    ``until`` (a closed wave's to its bound, where that is earlier), never back; returns how many
    moved. An expired lease is not revived here: its slot may belong to someone else by now
    (``renewal`` takes one again under its wave item's lock)."""
    if until <= now:
        return 0
    live = Assignment.objects.filter(pk__in=list(assignment_ids), state=Assignment.LEASED, expires_at__gt=now)
    targets: dict[datetime, list[int]] = defaultdict(list)
    for pk, state, closed_at in live.values_list("pk", "wave_item__wave__state", "wave_item__wave__closed_at"):
        bound = closed_wave_bound(state, closed_at)
        targets[until if bound is None else min(until, bound)].append(pk)
    # The UPDATE re-checks each row's state and expiry: a lease answered or expired meanwhile stays as it is.
    return sum(Assignment.objects.filter(pk__in=pks, state=Assignment.LEASED, expires_at__gt=now,
                                         expires_at__lt=target).update(expires_at=target)
               for target, pks in targets.items() if target > now)
