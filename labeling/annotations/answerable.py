"""Which assignment takes an annotator's answer (``services.submit_answer``; renewal's check-in
reads the same rule), with its wave item locked, or why none does.

* A live lease takes it, unless a lead decided the pick meanwhile (``decided_picks``: the
  decision released the lease, so it is no longer live) or the annotator answered it already.
* **A lease that ran out** takes it when the pick still has a free slot, or the annotator's own
  newer lease on the pick takes it. It is refused when others took the slots (``taken``), when a
  lead decided the pick (``decided``), when a later wave picked the item after this one closed
  (``wave_closed``, whatever that wave's state: its answers are the item's now, and an answer on
  the old pick would make a second, unreviewed vote beside them), and when the annotator has a
  live answer on the item already (from that later pick): each person has one vote per item
  (``disagreement._voter``).
"""
from django.utils import timezone

from labeling.items.models import Item
from labeling.projects.models import Project
from labeling.waves.models import Wave, WaveItem

from .decided_picks import pick_is_decided
from .errors import AnswerRejected, InvalidAnswer, NotFound, assignment_not_yours
from .leasing import change_slots, lease_expiry, slots_in_use
from .models import Annotation, Assignment

# What an answer's write needs of the pick's wave and item: never the wave's report or the item's
# text and metadata, which can be large and are read on every submit otherwise.
_LIGHT = ("wave__report", "item__text", "item__metadata")


def lock_wave_item(pk: int) -> WaveItem:
    return WaveItem.objects.select_for_update(of=("self",)).select_related("wave", "item").defer(*_LIGHT).get(pk=pk)


def _assignment_for_item(project: Project, user, item_id, now) -> tuple[Assignment, WaveItem]:
    """The annotator's own assignment on this item, or a new one if an open wave needs it."""
    try:
        item = Item.objects.get(pk=int(item_id), project=project)
    except (Item.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"Item {item_id!r} is not in project '{project.slug}'.", field="item") from None
    own = (
        Assignment.objects.filter(annotator=user, wave_item__item=item, wave_item__wave__project=project)
        .order_by("-leased_at", "-pk").first()
    )
    if own:
        wave_item = lock_wave_item(own.wave_item_id)
        own.refresh_from_db(fields=["state", "expires_at"])
        return own, wave_item
    for wave_item in WaveItem.objects.filter(item=item, wave__state=Wave.OPEN).order_by("wave__number"):
        wave_item = lock_wave_item(wave_item.pk)
        if slots_in_use(wave_item, now) < wave_item.overlap and not pick_is_decided(wave_item):
            assignment = Assignment.objects.create(wave_item=wave_item, annotator=user, expires_at=lease_expiry(now))
            change_slots([wave_item.pk], taken=1)
            return assignment, wave_item
    raise AnswerRejected(
        f"Item {item.pk} is not waiting for your answer in an open wave; nothing was stored.", field="item"
    )


def _locked_assignment(project: Project, user, assignment_id, lock: bool = True) -> tuple[Assignment, WaveItem]:
    """Lock the wave item of the annotator's assignment (``lock`` False: read it only), then read the assignment."""
    try:
        assignment_id = int(assignment_id)
        wave_items = WaveItem.objects.select_for_update(of=("self",)) if lock else WaveItem.objects
        wave_item = (
            wave_items.select_related("wave", "item").defer(*_LIGHT)
            .get(assignments__pk=assignment_id, assignments__annotator=user, wave__project=project)
        )
    except (WaveItem.DoesNotExist, TypeError, ValueError):
        raise NotFound(assignment_not_yours(project.slug, assignment_id), field="assignment") from None
    return Assignment.objects.get(pk=assignment_id), wave_item


class AlreadyAnswered(AnswerRejected):
    pass


class MembershipFirst(Exception):
    """The answer falls on an expired lease: it is taken again with the membership held first."""


def answerable_assignment(project: Project, user, assignment_id, item_id, now, member_held: bool = False,
                           lock: bool = True) -> tuple[Assignment, WaveItem]:
    """The assignment that takes the answer, with its wave item locked. On an expired lease
    (``member_held`` False) raises MembershipFirst: see submit_answer. ``lock`` False (by assignment
    only): the same rule on an unlocked read, for a caller that writes nothing (renewal's check-in)."""
    if assignment_id is not None:
        assignment, wave_item = _locked_assignment(project, user, assignment_id, lock)
    elif item_id is not None:
        assignment, wave_item = _assignment_for_item(project, user, item_id, now)
    else:
        raise InvalidAnswer("Say which item you answer: give 'assignment' or 'item'.", field="assignment")
    now = timezone.now()  # read again now that the item is locked: the wait may have been long

    if assignment.state in (Assignment.DONE, Assignment.SKIPPED):
        raise AlreadyAnswered(
            f"You already answered or skipped item {wave_item.item_id}; undo that answer first to change it.",
            field="assignment",
        )
    if assignment.state == Assignment.LEASED and assignment.expires_at > now:
        return assignment, wave_item

    if not member_held:
        raise MembershipFirst
    # The lease expired. A newer lease of the annotator's own on the item takes the answer.
    newer = (
        Assignment.objects.filter(
            wave_item=wave_item, annotator=user,
            state__in=[Assignment.LEASED, Assignment.DONE, Assignment.SKIPPED],
        ).exclude(pk=assignment.pk).order_by("-pk").first()
    )
    if newer and newer.state != Assignment.LEASED:
        raise AlreadyAnswered(
            f"You already answered or skipped item {wave_item.item_id}; undo that answer first to change it.",
            field="assignment",
        )
    if newer:
        return newer, wave_item
    # A lead's label released the lease (review_services.release_decided_leases): that label stands. Asked
    # first: a decision on an excluded item leaves the pick no slots, which is no one taking them.
    if pick_is_decided(wave_item):
        closed = f" after wave {wave_item.wave.number} closed" if wave_item.wave.state != Wave.OPEN else ""
        raise AnswerRejected(
            f"A lead decided the label of item {wave_item.item_id} in review{closed}, so your lease on it was "
            "released; your answer was not stored.", field="assignment", reason="decided")
    taken = slots_in_use(wave_item, now)  # this lease ran out: not among them
    if taken >= wave_item.overlap:
        raise AnswerRejected(
            f"Your lease on item {wave_item.item_id} expired and other annotators took "
            f"{'its slot' if wave_item.overlap == 1 else f'all {wave_item.overlap} of its slots'}; "
            "your answer was not stored.",
            field="assignment", reason="taken",
        )
    if wave_item.wave.state != Wave.OPEN:
        # Once the lease lapsed, the planner may have put the item in a later wave. The project
        # lock orders this check with the planner's (waves.services._persist takes it too).
        (Project.objects.select_for_update() if lock else Project.objects).filter(pk=project.pk).first()
        later = (WaveItem.objects.filter(item_id=wave_item.item_id, wave__number__gt=wave_item.wave.number)
                 .select_related("wave").order_by("wave__number").first())
        if later is not None:
            raise AnswerRejected(
                f"Your lease on item {wave_item.item_id} expired after wave {wave_item.wave.number} closed, and "
                f"the item is now in wave {later.wave.number}; your answer was not stored.",
                field="assignment", reason="wave_closed",
            )
    if Annotation.objects.filter(item_id=wave_item.item_id, annotator=user, origin=Annotation.ANNOTATOR,
                                 undone=False).exists():
        raise AlreadyAnswered(
            f"You already answered or skipped item {wave_item.item_id}; undo that answer first to change it.",
            field="assignment", reason="answered")
    return assignment, wave_item
