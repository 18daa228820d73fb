"""Reads of the review queue page and API: open tasks grouped by the label the model proposes
(the prediction of a low-confidence task, the suggested label of a label issue; tasks without a
model label, such as disagreements, form the last group).

The model's label is read by its identity (the label id the task recorded, or the one the model
version that routed it recorded for the name it learned) and shown by its name now: a label renamed
since keeps its tasks, and two labels that swapped names each keep their own."""
from __future__ import annotations

from labeling.modeling.selectors import PROPOSAL_KEYS, proposed_labels
from labeling.projects.models import Project

from .models import ReviewTask
from .selectors import add_proposals, labels_payload, review_queue

NO_MODEL_LABEL = "(no model label)"


def review_groups(project: Project, *, reason: str | None = None, limit: int = 500) -> dict:
    """``{"labels": [...], "groups": [{"label", "label_id", "tasks": [ReviewTask]}], "shown", "open"}``.
    Groups follow the project's label order; each task carries ``answers``, ``proposed``,
    ``detail_rows`` (``selectors.add_proposals``) and ``model_label`` (name or None)."""
    tasks = review_queue(project, reason=reason, limit=limit)
    labels = labels_payload(project)
    proposed = proposed_labels(project, tasks)
    for task in tasks:
        task.detail = current_names(task, proposed.get(task.pk), {label["id"]: label["name"] for label in labels})
    add_proposals(tasks, labels)
    ids = {label["name"]: label["id"] for label in labels}
    by_label: dict[str | None, list[ReviewTask]] = {}
    for task in tasks:
        task.model_label = proposed[task.pk][1] if proposed.get(task.pk) else None
        by_label.setdefault(task.model_label, []).append(task)
    order = [label["name"] for label in labels if label["name"] in by_label] + ([None] if None in by_label else [])
    groups = [{"label": name or NO_MODEL_LABEL, "label_id": ids.get(name), "tasks": by_label[name]} for name in order]
    open_count = ReviewTask.objects.filter(project=project, resolved_at__isnull=True)
    if reason:
        open_count = open_count.filter(reason=reason)
    return {"labels": labels, "groups": groups, "shown": len(tasks), "open": open_count.count()}


def current_names(task: ReviewTask, proposed: tuple[int, str] | None, names: dict[int, str]) -> dict:
    """The task's detail as the page shows it (a copy; nothing is stored): the model's label and a
    label issue's given label under their names now, where the task knows which labels they are."""
    detail = dict(task.detail or {})
    id_key, name_key = PROPOSAL_KEYS.get(task.reason, (None, None))
    if proposed and name_key in detail:
        detail[name_key] = proposed[1]
    if proposed and id_key:
        detail[id_key] = proposed[0]
    if isinstance(detail.get("given_label_id"), int) and detail["given_label_id"] in names:
        detail["given_label"] = names[detail["given_label_id"]]
    return detail
