"""Leasing: handing annotators batches of wave items, renewing and expiring their leases.

* **Slots.** A wave item needs ``WaveItem.overlap`` answers from different annotators. A slot is
  held by an answered or skipped assignment (``done``/``skipped``) or by a lease until it is
  expired; ``WaveItem.slots_taken`` counts them and ``slots_done`` the answered ones, both changed
  only under the wave item's row lock. A skip is the item's answer for this wave, as the planner
  counts wave completion (skips included); the item stays unlabeled, but no later wave picks it
  again: the planner never draws an answered item, a skipped one included
  (``labeling.waves.selectors.off_limits_parts``). Within the wave, a pick with an overlap above 1
  still hands its other slots to other annotators. An annotator never gets an item they hold,
  answered or skipped; an item whose lease expired unanswered may come back to them (otherwise a
  lone annotator who paused would strand it), and never while another annotator fills its slot.
* **Locking.** Every write that changes an item's slots locks its wave item first. Leasing walks
  the partial index of wave items with a free slot in lease order with ``SELECT … FOR UPDATE SKIP
  LOCKED`` (PostgreSQL, READ COMMITTED): a locked row returned by that statement carries the latest
  committed counts. Expiry locks the wave items it frees, re-reads the clock after the locks, and
  its UPDATE itself re-checks that the lease is still ``leased``, past its time and unanswered, so
  an answer committed meanwhile is never flipped back. SQLite ignores the locking clauses but
  serialises writers, which gives the same outcome.
* **Membership.** A lease is written only while its annotator is a member: the lease's transaction
  share-locks their membership row before it picks (``hold_membership``), so removing the member
  (``projects.membership.remove_member``, whose DELETE waits for that lock) either comes first and
  the lease is refused, or comes after the lease's commit and gives the lease back
  (``release.release_leases``). Checked at the request's start only, a lease committed while the
  member was being removed stayed theirs until it ran out. Admins lease without a membership.
* **Renewals.** The page renews its leases while someone works in it; a renewal extends a lease
  to at most ``LONGTAIL_LEASE_RENEWAL_PERIODS`` lease periods after the last sign of work: the
  batch's last lease, or the annotator's last answer, change or clear in the project since
  (``renewal_limit``), so a tab left open overnight does not keep its items from others.
  ``renewal`` says which leases are still held and takes a lapsed one again where its answer
  would be stored.
* **Asking again for a held batch** (the page's Start in a second tab, an API client polling
  ``batches/``) hands the batch back and renews its leases under the same limit. Past the limit
  the batch is not handed back: its leases are let go as their expiry would let them go, and the
  request leases a fresh batch as any new lease does, with its own clock. Items whose lease of
  the annotator ended idle at the limit (let go so, or run out there) are not leased to them again
  for one lease period (``idle_leases``); others get them at once. Without that a client that
  keeps asking would keep its items for ever with nobody answering.
* **One batch per annotator at a time.** Two asks of one annotator at the same moment (two tabs)
  take turns (``take_lease_turn``): the second finds the first's batch and is handed it back, as a
  sequential second ask is; without the turn each leased a fresh batch of different items.
* **Decided picks** ask no more answers: a lead's label completes the pick (``decided_picks``).
* **Excluded items** ask no more answers: a pick an annotator holds keeps the slots held, no more
  (``labeling.waves.discard.take_out_excluded``; ``excluded_picks`` when one ends).
* **Closed waves.** Closing a wave takes no item out of an annotator's hands: a live lease on a
  closed wave is still handed back and answerable until it expires, and its answer counts. The
  planner never picks an item with a live lease (``labeling.waves.pool``), so renewals extend a
  closed wave's lease to one lease period after the close at most, as closing says (``lease_bounds``).
"""
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, Exists, F, Max, OuterRef, Q, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from labeling.projects.locks import hold_membership, not_a_member
from labeling.projects.models import Membership, Project
from labeling.waves.models import Wave, WaveItem

from .decided_picks import decided_pick
from .excluded_picks import ask_no_more_of_excluded
from .idle_leases import ended_long_q, items_let_go_idle
from .lease_bounds import bounded, extend_live_leases
from .models import Annotation, Assignment

STALE_PER_CALL = 500
# First key of pg_advisory_xact_lock(namespace, user id): an annotator's turn to lease (the import
# lock is 7201, the label writers' 7202).
LEASE_TURN_LOCK = 7203
SLOT_STATES = [Assignment.LEASED, Assignment.DONE, Assignment.SKIPPED]


@dataclass
class LeasedBatch:
    assignments: list[Assignment]
    resumed: bool  # True: the annotator's still-valid lease was handed back instead of a new one


# The lease's reads must walk their indexes whatever PostgreSQL's statistics say (autovacuum may
# be off; a bulk import or a plan may have just landed): for the rest of the lease's transaction
# sequential scans, bitmap scans and sorts are priced out, which leaves the planner the ordered
# walks of the partial indexes (a bitmap scan returns rows out of order, then needs the sort).
# Every statement after it in that transaction reads by index or primary key anyway. A plan that
# had to keep a priced-out step would look enormously expensive: JIT compilation, which such
# costs would trigger, is switched off with them.
PIN_PLANS_SQL = ("SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off; "
                 "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL jit = off")


def pin_plans() -> None:
    """Call inside the lease's transaction, before its reads (PostgreSQL only)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PIN_PLANS_SQL)


def _open_waves_of_member(project: Project, user) -> list[int]:
    """The project's open waves in number order, read with the member's row share-locked as
    ``projects.locks.hold_membership`` locks it (its statement joined to this one: the lease's path
    runs on every batch)."""
    open_waves = Wave.objects.filter(project=project, state=Wave.OPEN).order_by("number")
    if user.is_superuser or connection.vendor != "postgresql":
        hold_membership(project, user, "nothing was leased")
        return list(open_waves.values_list("pk", flat=True))
    m, w = Membership._meta.db_table, Wave._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT w.id FROM "{m}" m LEFT JOIN "{w}" w ON w.project_id = m.project_id AND w.state = %s '
            f"WHERE m.project_id = %s AND m.user_id = %s ORDER BY w.number FOR KEY SHARE OF m",
            [Wave.OPEN, project.pk, user.pk])
        rows = cursor.fetchall()
    if not rows:  # not even the membership's row
        raise not_a_member(project, "nothing was leased")
    return [wave_id for (wave_id,) in rows if wave_id is not None]


def lease_expiry(now=None):
    return (now or timezone.now()) + timedelta(seconds=settings.LONGTAIL_LEASE_SECONDS)


def live_slot_q(now) -> Q:
    """Assignments that hold one of a wave item's slots."""
    return Q(state__in=[Assignment.DONE, Assignment.SKIPPED]) | Q(state=Assignment.LEASED, expires_at__gt=now)


def slots_in_use(wave_item: WaveItem, now) -> int:
    """The pick's slots held now: its count (exact under its row lock; it keeps the slots of a
    deleted user's answers, whose assignments are gone) less its leases that ran out unswept."""
    lapsed = Assignment.objects.filter(wave_item=wave_item, state=Assignment.LEASED, expires_at__lte=now).count()
    return wave_item.slots_taken - lapsed


def change_slots(wave_item_ids, *, taken: int = 0, done: int = 0) -> None:
    """Add to the slot counts of wave items the caller has locked (never below zero)."""
    if not wave_item_ids or not (taken or done):
        return
    changes = {}
    if taken:
        changes["slots_taken"] = Greatest(F("slots_taken") + taken, Value(0))
    if done:
        changes["slots_done"] = Greatest(F("slots_done") + done, Value(0))
    WaveItem.objects.filter(pk__in=list(wave_item_ids)).update(**changes)


def expire_locked(wave_item_ids: list[int]) -> int:
    """Expire the stale, unanswered leases of wave items this transaction has locked (leasing, and an
    item's exclusion, which needs exact slot counts). The clock is read after the locks, and the
    UPDATE re-checks each row's state itself."""
    if not wave_item_ids:
        return 0
    now = timezone.now()
    a, an = Assignment._meta.db_table, Annotation._meta.db_table
    marks = ", ".join(["%s"] * len(wave_item_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {a} SET state = %s WHERE wave_item_id IN ({marks}) AND state = %s AND expires_at <= %s '
            f'AND NOT EXISTS (SELECT 1 FROM {an} WHERE {an}.assignment_id = {a}.id AND NOT {an}.undone) '
            f"RETURNING wave_item_id",
            [Assignment.EXPIRED, *wave_item_ids, Assignment.LEASED, now],
        )
        freed = Counter(row[0] for row in cursor.fetchall())
    by_count: dict[int, list[int]] = {}
    for wave_item_id, n in freed.items():
        by_count.setdefault(n, []).append(wave_item_id)
    for n, ids in by_count.items():
        change_slots(ids, taken=-n)
    ask_no_more_of_excluded(list(freed))
    return sum(freed.values())


def expire_stale(now) -> int:
    """Expire stale leases of any project whose wave items can be locked now (a row another
    transaction holds is left for a later call); returns how many. Each lease runs it, in its
    transaction, before it picks: nothing else needs to sweep (a slot counts a lease past its time
    as free meanwhile: ``slots_in_use``, ``live_slot_q``)."""
    stale = set(stale_lease_query(None, now))
    if not stale:
        return 0
    locked = list(WaveItem.objects.filter(pk__in=stale).order_by("pk")
                  .select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True))
    return expire_locked(locked)


def take_lease_turn(user) -> None:
    """Wait for, then hold until the transaction ends, the annotator's turn to lease: their other
    ask (another tab, a client's retry) commits its batch first, and this one then finds it held.
    An advisory lock per user (whatever the project: an annotator asks in one at a time anyway), as
    no row stands for one (an admin leases without a membership). SQLite's transactions already
    take turns (IMMEDIATE, see settings)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LEASE_TURN_LOCK, user.pk])


# A leased item's payload never shows the wave's report or the item's metadata (the page's
# metadata fields are read apart, for the fields the lead chose): leave them in the database.
_NOT_SHOWN = ("wave__report", "item__metadata")


def _with_related(queryset):
    return queryset.select_related(
        "wave_item__item__source", "wave_item__wave", "wave_item__predicted_label"
    ).defer(*(f"wave_item__{field}" for field in _NOT_SHOWN))


def held_assignments(project: Project, user, now=None, *, live=None) -> list[Assignment]:
    """The annotator's unexpired leases in the project (open waves, and closed ones until the
    lease runs out), in lease order. First the annotator's live leases alone, by the (annotator,
    state, expires_at) index (usually none: the batch was finished; ``live``: their ids, read
    already), then those of this project with what the page shows, by primary key: no plan here
    depends on how big the other tables are believed to be."""
    if live is None:
        live = list(Assignment.objects.filter(annotator=user, state=Assignment.LEASED,
                                              expires_at__gt=now or timezone.now()).order_by().values_list("pk", flat=True))
    if not live:
        return []
    return list(
        _with_related(Assignment.objects.filter(pk__in=live, wave_item__wave__project=project))
        .order_by("leased_at", "batch_key", "position", "pk")
    )


def candidate_query(wave_id: int, user, exclude_ids=(), limit: int = 1):
    """Wave items of one wave with a free slot, in lease order, that this annotator never held,
    answered or skipped, and that no lead decided (``decided_picks``); locked, skipping rows others
    hold. It walks the partial index ``waveitem_free_slots`` (wave, batch, position, id where
    slots_taken < overlap)."""
    seen_by_user = Assignment.objects.filter(
        annotator=user, wave_item__item_id=OuterRef("item_id"), state__in=SLOT_STATES,
    )
    return (
        WaveItem.objects.filter(wave_id=wave_id, slots_taken__lt=F("overlap"))
        .exclude(pk__in=exclude_ids)
        .exclude(Exists(seen_by_user))
        .exclude(decided_pick())
        .select_related("item__source", "wave", "predicted_label").defer(*_NOT_SHOWN)
        .order_by("batch_number", "position", "pk")
        # of=("self",): lock the wave items only, never the shared wave or item rows.
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


def stale_lease_query(project: Project | None, now):
    """Wave items with a lease past its time (of one project, or of any), a bounded number per
    call. Without a project it reads the assignments table alone, by the (state, expires_at)
    index: only leases still ``leased`` and past their time."""
    stale = Assignment.objects.filter(state=Assignment.LEASED, expires_at__lte=now)
    if project is not None:
        stale = stale.filter(wave_item__wave__project=project)
    return stale.order_by().values_list("wave_item_id", flat=True)[:STALE_PER_CALL]


def lease_batch(project: Project, user, *, size: int | None = None) -> LeasedBatch:
    """The annotator's current batch if they still hold one, else the next items of the open
    wave(s) in (wave, batch_number, position) order, up to ``size`` (default: the project's)."""
    size = size or project.batch_size
    for attempt in range(2):
        try:
            return _lease_batch_once(project, user, size)
        except IntegrityError:
            # An assignment of the annotator's own on a picked item, written at that moment by a
            # path that takes no lease turn (renewal taking a lapsed lease again, an answer given
            # by item): the retry leases again. Their own asks take turns (take_lease_turn).
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _lease_batch_once(project: Project, user, size: int) -> LeasedBatch:
    with transaction.atomic():
        take_lease_turn(user)
        now = timezone.now()  # after the turn: the other ask's batch may have been leased meanwhile
        # One read by the annotator's index: their live leases, and those that may have ended idle.
        own = list(Assignment.objects.filter(annotator=user).filter(
            Q(state=Assignment.LEASED, expires_at__gt=now) | ended_long_q(now)).order_by()
            .values_list("pk", "state", "expires_at"))
        live = [pk for pk, state, expires_at in own if state == Assignment.LEASED and expires_at > now]
        held = held_assignments(project, user, now, live=live)
        until = min(lease_expiry(now), renewal_limit(project, user, [a.leased_at for a in held])) if held else now
        if until > now:
            # Renewing leases still held needs no membership check: a removal expires them, before or after.
            extend_live_leases([a.pk for a in held], until, now)
            for assignment in held:  # as extended: a closed wave's no further than its bound
                assignment.expires_at = max(assignment.expires_at, bounded(until, assignment.wave_item.wave))
            return LeasedBatch(held, resumed=True)

        open_waves = _open_waves_of_member(project, user)
        # past the renewal limit (after the membership: a lease's lock order); they end now
        let_go = set(release_unanswered(user, [a.wave_item_id for a in held], ended_at=now))
        if not open_waves:
            return LeasedBatch([], resumed=False)
        # Items this annotator let go idle: not theirs again for a while (read before the pinned
        # plans, by the annotator's indexes and the wave items' item index).
        ended = {pk for pk, *_ in own if pk not in live} | {a.pk for a in held if a.wave_item_id in let_go}
        idle_items = list(items_let_go_idle(project, user, now, among=ended))
        cooling = set(WaveItem.objects.filter(wave_id__in=open_waves, item_id__in=idle_items)
                      .values_list("pk", flat=True)) if idle_items else set()
        pin_plans()
        # Any stale lease, of this project or another: a single-table read whose plan cannot go
        # wrong, and no project's leases wait for that project's own next lease to be expired.
        expire_stale(now)
        now = timezone.now()  # after the locks

        chosen: list[WaveItem] = []
        _choose(chosen, open_waves, user, size, examined=cooling)
        if not chosen:
            return LeasedBatch([], resumed=False)

        batch_key = uuid.uuid4()
        expires = lease_expiry(now)
        leased = [
            Assignment(wave_item=w, annotator=user, batch_key=batch_key, position=i, expires_at=expires)
            for i, w in enumerate(chosen)
        ]
        Assignment.objects.bulk_create(leased)
        change_slots([w.pk for w in chosen], taken=1)
        if any(a.pk is None for a in leased):  # a backend without RETURNING on bulk inserts
            leased = list(_with_related(Assignment.objects.filter(batch_key=batch_key)).order_by("position"))
    return LeasedBatch(leased, resumed=False)


def _choose(chosen: list[WaveItem], open_waves: list[int], user, size: int, *, examined: set[int]) -> None:
    """Add to ``chosen`` the next free wave items of the open waves, up to ``size``, locked; none in
    ``examined`` and none of an item already chosen."""
    chosen_items = {w.item_id for w in chosen}
    for wave_id in open_waves:
        while len(chosen) < size:
            locked = list(candidate_query(wave_id, user, examined, size - len(chosen)))
            if not locked:
                break
            examined.update(w.pk for w in locked)
            # A row locked by this statement was re-checked on its latest version: its
            # slots_taken is exact (every writer changes it under the same lock).
            for wave_item in locked:
                if wave_item.item_id not in chosen_items:
                    chosen.append(wave_item)
                    chosen_items.add(wave_item.item_id)
        if len(chosen) >= size:
            return


def release_unanswered(user, wave_item_ids, *, ended_at=None) -> list[int]:
    """Expire ``user``'s unanswered leases on these wave items (live or past their time: both
    still count in ``slots_taken``) under the wave items' locks, in id order as every slot writer
    takes them, and free their slots; returns the wave items freed. Answers (done, skipped) stay.
    A member's removal (release.release_leases) and a batch let go past its renewal limit, whose
    leases end ``ended_at`` (their ``expires_at``, no later: ``idle_leases`` reads when they ended)."""
    wave_item_ids = sorted(set(wave_item_ids))
    if not wave_item_ids:
        return []
    list(WaveItem.objects.filter(pk__in=wave_item_ids).order_by("pk").select_for_update(of=("self",))
         .values_list("pk", flat=True))
    answered = Annotation.objects.filter(assignment=OuterRef("pk"), undone=False)
    released = list(Assignment.objects.filter(annotator=user, state=Assignment.LEASED, wave_item_id__in=wave_item_ids)
                    .exclude(Exists(answered)).values_list("pk", "wave_item_id"))
    ended = {} if ended_at is None else {"expires_at": Least(F("expires_at"), Value(ended_at, DateTimeField()))}
    Assignment.objects.filter(pk__in=[pk for pk, _ in released]).update(state=Assignment.EXPIRED, **ended)
    # One lease per annotator and wave item (the assignment_one_live_per_annotator constraint): one slot each.
    change_slots([wave_item_id for _, wave_item_id in released], taken=-1)
    ask_no_more_of_excluded([wave_item_id for _, wave_item_id in released])
    return [wave_item_id for _, wave_item_id in released]


def renewal_limit(project: Project, user, leased_at) -> datetime:
    """The latest time a renewal may extend these leases to: ``LONGTAIL_LEASE_RENEWAL_PERIODS``
    lease periods after the last sign of work: the latest of their leases (``leased_at``, their
    times; a clear from the history leases its item again, ``history``), or of the annotator's
    answers in the project after it, in the batch or not (a change from the history is a new
    answer): the page counts work in its history as activity as it counts work in its batch. A tab
    left open with nobody at work lets its items go then, whatever keeps renewing it."""
    leased_at = list(leased_at)
    if not leased_at:
        return timezone.now()
    last = max(leased_at)
    answered = answers_since(project, user, last).aggregate(last=Max("created_at"))["last"]
    return max(last, answered or last) + timedelta(
        seconds=settings.LONGTAIL_LEASE_SECONDS * settings.LONGTAIL_LEASE_RENEWAL_PERIODS)


def answers_since(project: Project, user, moment):
    """The annotator's own answers in the project after ``moment`` (a lead's adjudications in the
    review queue are not work in a batch), by the (annotator, created_at) index: the few since a
    recent moment, not all the annotator's answers of every project."""
    return Annotation.objects.filter(annotator=user, created_at__gt=moment, project=project,
                                     origin=Annotation.ANNOTATOR)

