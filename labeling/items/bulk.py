"""Writes of the item browser: a lead's bulk actions on chosen items (send to review, exclude
from the pool or take back, pin for the next wave or unpin). All or nothing: ids that are not
the project's items refuse the whole request, naming them."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.review import close_excluded_items
from labeling.projects.models import Project
from labeling.waves.discard import excluded_text, take_out_excluded
from labeling.waves.models import Wave

from .models import Item
from .signals import picks_withdrawn

MAX_ITEMS = 1000
# A review task the lead asked for from the item browser.
LEAD_REQUEST = ReviewTask.LEAD_REQUEST

ACTIONS = {
    "review": "send to review",
    "exclude": "exclude from the pool",
    "include": "put back into the pool",
    "pin": "pin for the next wave",
    "unpin": "unpin",
}


class BulkError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass
class BulkResult:
    action: str
    items: int
    changed: int
    answered: int = 0  # pin: items left unpinned because they have an answer (never picked again)
    waves: str = ""  # exclude: what it did to planned and open waves (waves.discard.excluded_text)
    reviews: int = 0  # exclude: open low-confidence review tasks closed (the queue asks nobody to label them)

    @property
    def message(self) -> str:
        unchanged = self.items - self.changed - self.answered
        text = (f"{ACTIONS[self.action].capitalize()}: {self.changed} of {self.items} item"
                f"{'s' if self.items != 1 else ''} changed" + (f" ({unchanged} already were)" if unchanged else ""))
        if self.answered:
            text += (f"; {self.answered} not pinned: an item with an answer is never picked for a wave again")
        if self.waves:
            text += f"; {self.waves}"
        if self.reviews:
            text += (f"; {self.reviews} open low-confidence review task{'s' if self.reviews != 1 else ''} "
                     "closed (nobody is to label an excluded item)")
        return text + "."


def _item_ids(project: Project, raw_ids) -> list[int]:
    try:
        ids = sorted({int(i) for i in raw_ids})
    except (TypeError, ValueError):
        raise BulkError("Item ids must be whole numbers.", "items") from None
    if not ids:
        raise BulkError("Choose at least one item.", "items")
    if len(ids) > MAX_ITEMS:
        raise BulkError(f"At most {MAX_ITEMS} items per bulk action ({len(ids)} given).", "items")
    found = set(Item.objects.filter(project=project, id__in=ids).values_list("id", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise BulkError(f"Not items of project '{project.slug}': {shown}.", "items")
    return ids


def apply(project: Project, action: str, raw_ids, user) -> BulkResult:
    if action not in ACTIONS:
        raise BulkError(f"Unknown action {action!r}; choose one of {', '.join(ACTIONS)}.", "action")
    ids = _item_ids(project, raw_ids)
    items = Item.objects.filter(project=project, id__in=ids)
    with transaction.atomic():
        if action == "review":
            changed = send_to_review(project, ids, user)
        elif action == "exclude":
            # The project's row lock first, as a plan takes it: a plan running now either committed
            # its wave before (and the items leave it here) or reads them excluded.
            # NO KEY: an answer being stored meanwhile holds a pick's lock and, at its commit, takes
            # the key-share lock its rows' foreign keys need on the project; FOR UPDATE would block
            # that while this waits for the pick: a deadlock. It still queues behind a plan's lock.
            Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
            waves = take_out_excluded(project, ids)
            if any(w["state"] == Wave.OPEN for w in waves):
                # Its last unanswered picks may be gone: the loop closes the wave if it is complete.
                transaction.on_commit(lambda: picks_withdrawn.send(sender=Item, project=project))
            # An excluded item cannot also wait for the next wave.
            changed = items.exclude(excluded=True).update(excluded=True, pinned_for_next_wave=False)
            items.update(pinned_for_next_wave=False)
            # after the project's lock, as a routing pass takes it before the tasks' (review.route_review)
            reviews = close_excluded_items(project, ids)
            return BulkResult(action=action, items=len(ids), changed=changed, waves=excluded_text(waves),
                              reviews=reviews)
        elif action == "include":
            changed = items.filter(excluded=True).update(excluded=False)
        elif action == "pin":
            # the planner never asks again about an item with an answer (waves.pool.pinned_items):
            # a pin there would say "changed" and do nothing
            answered = set(Annotation.objects.filter(project=project, item_id__in=ids, undone=False)
                           .values_list("item_id", flat=True))
            askable = items.exclude(id__in=answered)
            changed = askable.exclude(pinned_for_next_wave=True).update(pinned_for_next_wave=True, excluded=False)
            askable.update(excluded=False)
            return BulkResult(action=action, items=len(ids), changed=changed, answered=len(answered))
        else:
            changed = items.filter(pinned_for_next_wave=True).update(pinned_for_next_wave=False)
    return BulkResult(action=action, items=len(ids), changed=changed)


def send_to_review(project: Project, ids: list[int], user) -> int:
    """Open a lead-request review task per item that has no open one; returns how many this call
    opened. The items are locked first (in id order: two such requests never wait on each other crosswise), so that
    two requests at once (a double click, two leads) take turns: the second finds the first's tasks
    open and counts none, where both counted every task they attempted ("5 of 5 changed" twice for
    5 tasks). The open-task constraint still keeps two from opening; ignore_conflicts is its net."""
    list(Item.objects.filter(project=project, id__in=ids).order_by("id")
         .select_for_update(no_key=True).values_list("id", flat=True))
    already = set(ReviewTask.objects.filter(
        project=project, item_id__in=ids, reason=LEAD_REQUEST, resolved_at__isnull=True
    ).values_list("item_id", flat=True))
    tasks = [ReviewTask(project=project, item_id=i, reason=LEAD_REQUEST,
                        detail={"requested_by": user.username, "via": "item browser"})
             for i in ids if i not in already]
    ReviewTask.objects.bulk_create(tasks, ignore_conflicts=True)
    return len(tasks)
