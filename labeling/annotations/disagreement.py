"""Disagreement tasks: an item whose annotators' current answers differ goes to the lead's review
queue, and leaves it once they agree again (a change, an undo) or a lead's adjudication decides it.
Called by every write that changes an item's answers (``services``, ``history``)."""
from django.utils import timezone

from labeling.projects.models import Project

from .models import Annotation, ReviewTask


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
    open_task = ReviewTask.objects.filter(
        project=project, item_id=item_id, reason=ReviewTask.DISAGREEMENT, resolved_at__isnull=True
    ).first()
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
