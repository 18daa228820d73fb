"""Reads behind the item page and the item detail API: an item's whole story (where it came
from, its duplicates, every wave that picked it and why, every answer, what each model version
predicted, its review tasks) as plain dicts the template and the serializer share."""
from __future__ import annotations

from django.db.models import Q

from labeling.annotations.answer_states import is_cleared
from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.scores import item_predictions
from labeling.projects.models import Project
from labeling.waves.models import WaveItem

from . import browse
from .models import Item

MAX_DUPLICATES = 50


def answers_with_supersession(answers: list[Annotation]) -> list[dict]:
    """Answers (oldest first) as dicts with ``superseded``: a live answer is superseded when the
    same annotator answered the item again later, or an adjudication came after it."""
    rows = []
    # A changed answer (history.change_answer) is stored undone, with a newer row pointing at it.
    replaced_by = {b.supersedes_id: b.id for b in answers if b.supersedes_id}
    for i, a in enumerate(answers):
        later = [b for b in answers[i + 1:] if not b.undone]
        superseded = a.id in replaced_by or not a.undone and any(
            b.origin == Annotation.ADJUDICATION or (a.annotator_id is not None and b.annotator_id == a.annotator_id
                                                   and b.origin == a.origin)
            for b in later
        )
        wave_item = a.assignment.wave_item if a.assignment_id and a.assignment else None
        rows.append({
            "id": a.id, "item": a.item_id,
            "annotator": a.annotator.username if a.annotator_id and a.annotator else None,
            "label": a.label.name if a.label_id else None, "skipped": a.skipped, "skip_reason": a.skip_reason,
            "origin": a.origin, "undone": is_cleared(a.undone, a.id, replaced_by), "superseded": superseded,
            "superseded_by": replaced_by.get(a.id), "created_at": a.created_at,
            "wave": wave_item.wave.number if wave_item else None,
        })
    return rows


def answers_of(item_ids: list[int]) -> dict[int, list[Annotation]]:
    by_item: dict[int, list[Annotation]] = {}
    for a in (
        Annotation.objects.filter(item_id__in=item_ids)
        .select_related("annotator", "label", "assignment__wave_item__wave").order_by("created_at", "id")
    ):
        by_item.setdefault(a.item_id, []).append(a)
    return by_item


def picks(item: Item) -> list[dict]:
    rows = WaveItem.objects.filter(item=item).select_related("wave", "predicted_label").order_by("wave__number")
    return [{
        "wave": p.wave.number, "wave_state": p.wave.state, "strategy": p.strategy, "reason": p.reason,
        "inclusion_prob": p.inclusion_prob, "predicted_label": p.predicted_label.name if p.predicted_label_id else None,
        "predicted_prob": p.predicted_prob, "likely_rare": p.likely_rare, "overlap": p.overlap,
        "batch": p.batch_number,
    } for p in rows]


def predictions(item: Item) -> list[dict]:
    """What each model version that scored the item emits, newest first (``modeling.scores.item_predictions``:
    a coarse → fine model's fallback is its coarse label, marked, with the fine candidate)."""
    return item_predictions(item)


def duplicates(item: Item) -> tuple[list[dict], int]:
    """Other members of the item's near-duplicate group and its exact duplicates (same
    normalized text): the first MAX_DUPLICATES and how many there are."""
    same = Q(text_hash=item.text_hash)
    if item.dup_group is not None:
        same |= Q(dup_group=item.dup_group)
    members = Item.objects.filter(same, project_id=item.project_id).exclude(id=item.id).select_related("source")
    total = members.count()
    rows = [{
        "id": m.id, "text": m.text[:300], "source": m.source.name if m.source_id else None,
        "exact": m.text_hash == item.text_hash, "excluded": m.excluded,
    } for m in members.order_by("id")[:MAX_DUPLICATES]]
    return rows, total


def review_tasks(item: Item) -> list[dict]:
    return [{
        "id": t.id, "reason": t.reason, "created_at": t.created_at, "resolved_at": t.resolved_at,
        "resolved_label": t.resolved_label.name if t.resolved_label_id else None,
        "resolved_by": t.resolved_by.username if t.resolved_by_id else None,
    } for t in ReviewTask.objects.filter(item=item).select_related("resolved_label", "resolved_by").order_by("id")]


def item_story(project: Project, item: Item) -> dict:
    flags = browse.row_states(project, [item.id])[item.id]
    resolved = flags["resolved_name"]
    members, total = duplicates(item)
    return {
        "id": item.id, "external_id": item.external_id, "text": item.text, "metadata": item.metadata,
        "source": item.source.name if item.source_id else None, "dup_group": item.dup_group,
        "created_at": item.created_at, "import_batch": item.import_batch_id, "excluded": item.excluded,
        "pinned_for_next_wave": item.pinned_for_next_wave,
        "state": browse.primary_state(flags), "resolved_label": resolved,
        "duplicates": members, "duplicates_total": total,
        "picks": picks(item), "answers": answers_with_supersession(answers_of([item.id]).get(item.id, [])),
        "predictions": predictions(item), "review_tasks": review_tasks(item),
    }
