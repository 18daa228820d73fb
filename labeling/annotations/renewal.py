"""Lease renewal as the annotation page asks for it: keep the leases it shows, and say which of
them are still the annotator's and which were lost, and why.

* **Held, lapsed, lost.** The page names the assignments it still offers (its unanswered items).
  Each comes back *held* (a live lease, extended when asked), *lapsed* (its lease ran out but an
  answer would still be stored on it: in a check-in that asked for no extension, or on a closed
  wave past its bound) or *lost* with a reason (``LOST_REASONS``): the page takes lost items off
  its batch.
* **The answer path decides.** An expired lease is taken again exactly when an answer on it would
  be stored (``answerable.answerable_assignment``: a slot still free, or the annotator's own newer
  lease on the item; not after its wave closed once the item is in a newer wave), under the wave
  item's lock and with the membership held, as that answer would be. So the page never keeps
  offering an item whose answer the server refuses (409), and never drops one that was still free.
* **Check-ins.** A page whose annotator is away asks with ``extend`` false: nothing is extended,
  and the reply still carries the labels, the removal (403) and the leases lost meanwhile. A
  check-in writes nothing and takes no row lock: a lapsed lease is judged by the same rule on an
  unlocked read (``answerable_assignment(lock=False)``), so a tab left open for hours never
  waits on, or holds up, the answers, leases and planning that lock those rows.
* **The limit.** Extending (and taking again) stops at ``leasing.renewal_limit``: a number of lease
  periods after the batch's last lease, or the annotator's last answer, change or clear in the
  project since (the page counts any work in it, its history included, as activity). Past it a
  lapsed lease is lost as ``idle``. A closed wave's leases stop one lease period after its close
  (``lease_bounds``), as closing tells the lead: the planner may then give their items to the next wave.
"""
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from labeling.projects.locks import hold_membership
from labeling.projects.models import Project

from .answerable import AlreadyAnswered, answerable_assignment
from .errors import AnswerRejected, NotFound
from .lease_bounds import bounded, extend_live_leases
from .leasing import change_slots, lease_expiry, renewal_limit
from .models import Assignment

# reason → what it means, for API clients (the page words its own notice from the reason).
LOST_REASONS = {
    "taken": "Your lease ran out and other annotators took the item's slots.",
    "answered": "The item was answered or skipped already (in another tab or session).",
    "wave_closed": "Your lease ran out after the item's wave closed, and the item is in a newer wave now.",
    "idle": "Your lease ran out after a long time without an answer in its batch; the item went back to the pool.",
    "gone": "No such assignment of yours in this project (its wave or item was deleted).",
    "decided": "A lead labeled the item in review; your lease on it was released.",
}


@dataclass
class Lease:
    assignment: int
    item: int | None
    expires_at: datetime | None = None
    reason: str = ""  # lost only: a key of LOST_REASONS

    @property
    def message(self) -> str:
        return LOST_REASONS.get(self.reason, "")


@dataclass
class Renewal:
    renewed: int = 0  # leases whose expiry moved
    held: list[Lease] = field(default_factory=list)
    lapsed: list[Lease] = field(default_factory=list)
    lost: list[Lease] = field(default_factory=list)


def renew(project: Project, user, *, assignment_ids=None, extend: bool = True) -> Renewal:
    """Renew the annotator's leases in the project: the ones named (``assignment_ids``, the page's
    unanswered items), or without names every live one (what API clients got before: no lease is
    then reported lost). ``extend`` False: only say how they stand."""
    now = timezone.now()
    rows = Assignment.objects.filter(annotator=user, wave_item__wave__project=project)
    if assignment_ids is None:
        rows = rows.filter(state=Assignment.LEASED, expires_at__gt=now)
    else:
        rows = rows.filter(pk__in=set(assignment_ids))
    found = {pk: (item, leased_at) for pk, item, leased_at in rows.values_list("pk", "wave_item__item_id", "leased_at")}
    result = Renewal()
    until = None
    if extend:
        until = min(lease_expiry(now), renewal_limit(project, user, [at for _, at in found.values()]))
        result.renewed = extend_live_leases(found, until, now)

    now = timezone.now()
    live = dict(Assignment.objects.filter(pk__in=list(found), state=Assignment.LEASED, expires_at__gt=now)
                .values_list("pk", "expires_at"))
    for pk in dict.fromkeys(assignment_ids if assignment_ids is not None else found):
        if pk in live:
            result.held.append(Lease(pk, found[pk][0], live[pk]))
        elif pk not in found:
            result.lost.append(Lease(pk, None, reason="gone"))
        else:
            _lapsed(project, user, Lease(pk, found[pk][0]), until, result)
    return result


def _lapsed(project: Project, user, lease: Lease, until, result: Renewal) -> None:
    """A lease that is not live (ran out, or answered elsewhere): take it again until ``until``
    where an answer would be stored (None: only say whether it could be), else report it lost."""
    if until is None:
        # A check-in writes nothing, so it reads the answer path's rule without its row locks: a
        # tab left open sends one every third of a lease period, and its lapsed leases would
        # otherwise queue behind (and hold up) answers, leases and the planner on those rows.
        answerable = _answerable(project, user, lease, result, lock=False)
        if answerable is not None:
            result.lapsed.append(Lease(lease.assignment, lease.item, answerable[0].expires_at))
        return
    with transaction.atomic():
        hold_membership(project, user, "your leases were not renewed")
        answerable = _answerable(project, user, lease, result, lock=True)
        if answerable is None:
            return
        assignment, wave_item = answerable
        now = timezone.now()
        if until <= now:
            result.lost.append(_lost(lease, "idle"))
            return
        until = bounded(until, wave_item.wave)
        if until <= now:
            # Its wave closed over a lease period ago: not taken again, the item goes back to the pool
            # as closing said; the page keeps it, and an answer on it is stored while it is still free.
            live = assignment.state == Assignment.LEASED and assignment.expires_at > now
            (result.held if live else result.lapsed).append(Lease(lease.assignment, lease.item, assignment.expires_at))
            return
        if assignment.state == Assignment.EXPIRED:  # its slot went back to the pool: take it again
            change_slots([wave_item.pk], taken=1)
        elif assignment.expires_at >= until:  # the annotator's own newer lease, live and longer
            result.held.append(Lease(lease.assignment, lease.item, assignment.expires_at))
            return
        Assignment.objects.filter(pk=assignment.pk).update(state=Assignment.LEASED, expires_at=until)
    result.renewed += 1
    result.held.append(Lease(lease.assignment, lease.item, until))


def _answerable(project: Project, user, lease: Lease, result: Renewal, *, lock: bool):
    """The (assignment, wave item) an answer on the lease would be stored on, read as the answer
    path reads it (``lock``: under its row locks); None where that path would refuse the answer,
    and the lease is then reported lost with the refusal's reason."""
    try:
        # member_held: the expired lease's checks run here; the caller holds the membership when it writes.
        return answerable_assignment(project, user, lease.assignment, None, timezone.now(), member_held=True,
                                     lock=lock)
    except AlreadyAnswered:
        result.lost.append(_lost(lease, "answered"))
    except NotFound:
        result.lost.append(_lost(lease, "gone"))
    except AnswerRejected as refused:  # the answer path's own reason: taken, wave_closed or decided
        result.lost.append(_lost(lease, refused.reason))
    return None


def _lost(lease: Lease, reason: str) -> Lease:
    return Lease(lease.assignment, lease.item, reason=reason)
