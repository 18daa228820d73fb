"""Disagreement tasks: an item whose annotators' current answers differ goes to the lead's review
queue, and leaves it once they agree again (a change, an undo) or a lead's adjudication decides it.
Called by every write that changes an item's answers (``services``, ``history``).

Lock order on an item's review tasks: every writer of them (an answer's write here, a lead's
decision in ``review_services.resolve_review`` and ``review_services.bulk_review``) locks all of the
item's open tasks at once, in id order, before it writes any (``lock_open_tasks``). Locked one by
one as each was reached, a lead resolving the item's label issue while its annotator changed an
answer (which withdraws the disagreement, then closes the issue) each held the task the other
needed next, and PostgreSQL cancelled one of them."""
from django.db.models import Q
from django.utils import timezone

from labeling.projects.models import Project

from .models import Annotation, ReviewTask


def lock_open_tasks(project: Project, item_ids, *, also=(), related=()) -> list[ReviewTask]:
    """Lock the open review tasks of the items (and the tasks ``also`` names, open or not) in id
    order, as they are now; a task closed while this waited for it is left out unless named.
    ``related``: relations to read with them (never locked)."""
    wanted = Q(item_id__in=list(item_ids), resolved_at__isnull=True) | Q(pk__in=list(also))
    tasks = ReviewTask.objects.select_for_update(of=("self",)).filter(project=project).filter(wanted)
    if related:  # select_related() without names would follow every relation
        tasks = tasks.select_related(*related)
    return list(tasks.order_by("pk"))


def sync_disagreement(project: Project, item_id: int, *, added: bool = False) -> ReviewTask | None:
    """Open (or refresh) a disagreement task when annotators' current answers on the item differ;
    withdraw an open one when they no longer do (after an undo). A standing adjudication is the
    item's decision: no disagreement is opened while it stands, and an open one is closed with it
    (a lead re-adjudicates from the item page). Call with the item locked. ``added``: the change
    was a new answer, which cannot end a disagreement, so a single annotator's answers need no
    further look."""
    answers = list(
        Annotation.objects.filter(
            project=project, item_id=item_id, origin=Annotation.ANNOTATOR, undone=False, skipped=False
        ).select_related("annotator", "label").order_by("created_at", "pk")
    )
    latest = {}
    for answer in answers:  # each annotator's latest answer counts
        latest[answer.annotator_id] = answer
    if added and len(latest) < 2:
        return None
    locked = lock_open_tasks(project, [item_id])  # all of the item's, before any is written: the module's lock order
    open_task = next((t for t in locked if t.reason == ReviewTask.DISAGREEMENT), None)  # locked: open ones only
    disagree = len(latest) >= 2 and len({a.label_id for a in latest.values()}) > 1
    if not disagree:
        if open_task:
            open_task.delete()
        return None
    decision = (Annotation.objects.filter(project=project, item_id=item_id, origin=Annotation.ADJUDICATION,
                                          undone=False, label__isnull=False).order_by("-pk").first())
    if decision is not None:
        if open_task:  # left open by an older release: the decision answered it
            ReviewTask.objects.filter(pk=open_task.pk).update(
                resolved_label_id=decision.label_id, resolved_by_id=decision.annotator_id, resolved_at=timezone.now())
        return None
    detail = {
        "answers": [
            {"annotator": a.annotator.username if a.annotator else None, "label_id": a.label_id,
             "label": a.label.name if a.label else None}
            for a in latest.values()
        ]
    }
    if open_task:
        open_task.detail = detail
        open_task.save(update_fields=["detail"])
        return open_task
    return ReviewTask.objects.create(project=project, item_id=item_id, reason=ReviewTask.DISAGREEMENT, detail=detail)
