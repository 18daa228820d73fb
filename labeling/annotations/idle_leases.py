"""Leases an annotator let run out at the renewal limit, and the items they may not lease again yet.

* **Which.** A lease of the annotator's, never answered, that ended ``LONGTAIL_LEASE_RENEWAL_PERIODS``
  lease periods or more after the last sign of work: its lease, and the annotator's own answers in
  the project (``leasing.renewal_limit``'s rule, read after the fact). A lease ends at its
  ``expires_at``: one that ran out at the limit (renewed up to it, then left: an API client that keeps
  asking, or a page left open), or one let go past it when its batch was asked for again (``leasing``
  sets ``expires_at`` to the moment it let it go). A lease that ran out earlier, or after an answer
  in its last periods, was not idle: its items come back to the annotator at once, as before (a
  lone annotator who paused is given them again).
* **For how long.** One lease period (``LONGTAIL_LEASE_SECONDS``) after the lease ended, the item
  is not leased to that annotator again; anyone else gets it at once. Long enough that another
  annotator at work (the page asks when its batch is done and checks in every third of a period)
  is offered it first, and that a client polling ``batches/`` cannot keep an item by asking again;
  short enough that a lone annotator's items are not stranded: after it they come back to them.
  Their own answer on the old lease is still stored while the item's slot is free (``services``).
"""
from bisect import bisect_right
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q

from labeling.projects.models import Project

from .models import Annotation, Assignment


def cooling_period() -> timedelta:
    return timedelta(seconds=settings.LONGTAIL_LEASE_SECONDS)


def idle_period() -> timedelta:
    return timedelta(seconds=settings.LONGTAIL_LEASE_SECONDS * settings.LONGTAIL_LEASE_RENEWAL_PERIODS)


def ended_long_q(now: datetime) -> Q:
    """Assignments of leases never answered that lasted the renewal limit or longer and ended less
    than one lease period ago: the ones that may have ended idle (the answers then tell)."""
    return Q(state__in=[Assignment.EXPIRED, Assignment.LEASED], expires_at__gt=now - cooling_period(),
             expires_at__lte=now, expires_at__gte=F("leased_at") + idle_period())


def items_let_go_idle(project: Project, user, now: datetime, *, among=None) -> dict[int, datetime]:
    """item id → when it may be leased to ``user`` again, for the items whose lease of theirs in the
    project ended idle at the renewal limit less than one lease period ago. ``among``: the ids of
    the assignments to judge, read already by the caller (a lease reads them with its held leases);
    without it they are read here, by the (annotator, state, expires_at) index."""
    if among is not None and not among:
        return {}
    rows = Assignment.objects.filter(annotator=user, wave_item__wave__project=project)
    rows = rows.filter(ended_long_q(now)) if among is None else rows.filter(pk__in=list(among))
    ended = list(rows.values_list("wave_item__item_id", "expires_at"))
    if not ended:
        return {}
    idle = idle_period()
    # The annotator's answers that could have kept one of them alive: in the idle periods before
    # its end (by the (annotator, created_at) index).
    answered = sorted(Annotation.objects.filter(
        annotator=user, project=project, origin=Annotation.ANNOTATOR,
        created_at__gt=min(at for _, at in ended) - idle, created_at__lte=max(at for _, at in ended),
    ).values_list("created_at", flat=True))
    back_at: dict[int, datetime] = {}
    for item_id, ended_at in ended:
        before_end = bisect_right(answered, ended_at)
        if before_end and answered[before_end - 1] > ended_at - idle:
            continue  # work in its last periods: the lease was not idle, it ran out (a tab closed)
        back_at[item_id] = max(back_at.get(item_id, ended_at), ended_at) + cooling_period()
    return back_at
