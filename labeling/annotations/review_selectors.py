"""Reads of the review queue page and API: open tasks grouped by the label the model proposes
(the prediction of a low-confidence task, the suggested label of a label issue; tasks without a
model label, such as disagreements, form the last group)."""
from __future__ import annotations

from labeling.projects.models import Project

from .models import ReviewTask
from .review_services import model_label_name
from .selectors import add_proposals, labels_payload, review_queue

NO_MODEL_LABEL = "(no model label)"


def review_groups(project: Project, *, reason: str | None = None, limit: int = 500) -> dict:
    """``{"labels": [...], "groups": [{"label", "label_id", "tasks": [ReviewTask]}], "shown", "open"}``.
    Groups follow the project's label order; each task carries ``answers``, ``proposed``,
    ``detail_rows`` (``selectors.add_proposals``) and ``model_label`` (name or None)."""
    tasks = review_queue(project, reason=reason, limit=limit)
    labels = labels_payload(project)
    add_proposals(tasks, labels)
    ids = {label["name"]: label["id"] for label in labels}
    by_label: dict[str | None, list[ReviewTask]] = {}
    for task in tasks:
        name = model_label_name(task)
        task.model_label = name if name in ids else None
        by_label.setdefault(task.model_label, []).append(task)
    order = [label["name"] for label in labels if label["name"] in by_label] + ([None] if None in by_label else [])
    groups = [{"label": name or NO_MODEL_LABEL, "label_id": ids.get(name), "tasks": by_label[name]} for name in order]
    open_count = ReviewTask.objects.filter(project=project, resolved_at__isnull=True)
    if reason:
        open_count = open_count.filter(reason=reason)
    return {"labels": labels, "groups": groups, "shown": len(tasks), "open": open_count.count()}
