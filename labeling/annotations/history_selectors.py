"""Reads of an annotator's own answers: the History panel's rows (answers that still count, newest
first) and, for a reloaded page, the answered items of the batch the annotator holds, so its batch
counter counts them. Changing or clearing an answer is ``history``."""
from labeling.projects.models import Project
from labeling.waves.models import Wave

from .models import Annotation, Assignment

SNIPPET_CHARS = 140
HISTORY_LIMIT = 50


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answer_row(annotation: Annotation, *, with_text: bool = True) -> dict:
    """One answer as the history panel shows it (the page escapes every string)."""
    label = annotation.label
    row = {
        "id": annotation.pk,
        "client_id": str(annotation.client_id),
        "item": annotation.item_id,
        "assignment": annotation.assignment_id,
        "snippet": snippet(annotation.item.text),
        "label": label.pk if label else None,
        "label_name": label.name if label else None,
        "hotkey": label.hotkey if label else "",
        "is_other": bool(label and label.is_other),
        "skipped": annotation.skipped,
        "skip_reason": annotation.skip_reason,
        "created_at": annotation.created_at.isoformat(),
        "supersedes": annotation.supersedes_id,
        "suggestion_shown": annotation.suggestion_shown,
        # whether clearing the answer gives the item back to the annotator (its wave is open) or
        # to the pool (closed): the page says which
        "wave_open": _wave_open(annotation),
    }
    if with_text:
        row["text"] = annotation.item.text
        row["source"] = annotation.item.source.name if annotation.item.source_id else None
    return row


def _wave_open(annotation: Annotation) -> bool | None:
    """None for an answer given outside a wave's assignment."""
    if not annotation.assignment_id:
        return None
    return annotation.assignment.wave_item.wave.state == Wave.OPEN


def recent_answers(project: Project, user, *, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The annotator's answers that still count in the project, newest first."""
    rows = (
        Annotation.objects.filter(project=project, annotator=user, origin=Annotation.ANNOTATOR, undone=False)
        .select_related("label", "item__source", "assignment__wave_item__wave").order_by("-created_at", "-pk")[:limit]
    )
    return [answer_row(a) for a in rows]


def standing_answer(project: Project, user, item_id: int) -> dict | None:
    """The annotator's answer that counts on the item now (a history row), or None: what a page
    whose change or clear was refused shows instead of the answer it named."""
    annotation = (
        Annotation.objects.filter(project=project, annotator=user, origin=Annotation.ANNOTATOR, undone=False,
                                  item_id=item_id)
        .select_related("label", "item__source", "assignment__wave_item__wave").order_by("-created_at", "-pk").first()
    )
    return answer_row(annotation) if annotation else None


def standing_for_answer(project: Project, user, *, assignment_id=None, item_id=None) -> dict | None:
    """standing_answer for the item an answer named (by its assignment, or the item itself): what a
    page whose answer was refused (already answered in another tab, its slot taken) shows instead.
    None when the answer named nothing of the annotator's, or nothing of theirs counts on it."""
    if item_id is None and assignment_id is not None:
        item_id = (Assignment.objects.filter(pk=assignment_id, annotator=user, wave_item__wave__project=project)
                   .values_list("wave_item__item_id", flat=True).first())
    return standing_answer(project, user, item_id) if item_id is not None else None


def batch_answered(project: Project, user, held: list[Assignment]) -> list[dict]:
    """The answered items of the batches the annotator holds (same batch keys as ``held``), each
    with its live answer, so a reloaded page counts them."""
    keys = {a.batch_key for a in held}
    if not keys:
        return []
    done = (
        Assignment.objects.filter(
            annotator=user, batch_key__in=keys, state__in=[Assignment.DONE, Assignment.SKIPPED],
            wave_item__wave__project=project,
        ).select_related("wave_item__item__source", "wave_item__wave").order_by("position", "pk")
    )
    live = {
        a.assignment_id: a for a in Annotation.objects.filter(
            assignment__in=done, undone=False, origin=Annotation.ANNOTATOR
        ).select_related("label", "item__source", "assignment__wave_item__wave")
    }
    rows = []
    for assignment in done:
        annotation = live.get(assignment.pk)
        if annotation is None:
            continue
        item = assignment.wave_item.item
        rows.append({
            "assignment": assignment.pk, "item": item.pk, "external_id": item.external_id, "text": item.text,
            "source": item.source.name if item.source_id else None, "wave": assignment.wave_item.wave.number,
            "batch_number": assignment.wave_item.batch_number, "position": assignment.position,
            "expires_at": assignment.expires_at.isoformat(), "batch_key": str(assignment.batch_key),
            "answered": answer_row(annotation, with_text=False),
        })
    return rows
