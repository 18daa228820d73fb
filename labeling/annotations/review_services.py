"""Bulk decisions on the review queue: accept the model's label, relabel, or dismiss many open
tasks at once (the one-by-one adjudication is ``services.resolve_review``).

* **accept** stores the model's label as the lead's adjudication: the prediction of a
  low-confidence task, the suggested label of a label issue. A task without a model label
  (a disagreement, a lead's request) is skipped with the reason.
* **relabel** stores the lead's chosen label for every selected task's item.
* **dismiss** closes the selected tasks without storing anything: the prediction (or the given
  label, for a label issue) stands.

A label stored for an item resolves every open task of that item, as one adjudication does. Ids
that are not open tasks of the project are reported as skipped, never fail the others.
``answer_saved`` is sent once per labeled item after the transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from labeling.items.models import Item
from labeling.projects.models import Label, Project

from .models import Annotation, ReviewTask
from .services import InvalidAnswer
from .signals import answer_saved

ACCEPT, RELABEL, DISMISS = "accept", "relabel", "dismiss"
ACTIONS = (ACCEPT, RELABEL, DISMISS)
MAX_TASKS = 1000


@dataclass
class BulkResult:
    action: str
    done: list[int] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"task": id, "reason": text}
    labeled_items: list[int] = field(default_factory=list)


def model_label_name(task: ReviewTask) -> str | None:
    """The label the model proposes for the task's item: the suggestion of a label issue, the
    prediction of a low-confidence task (both shapes the learner writes)."""
    detail = task.detail or {}
    if task.reason == ReviewTask.LABEL_ISSUE:
        name = detail.get("suggested_label")
    else:
        prediction = detail.get("prediction")
        name = detail.get("predicted") or (prediction.get("label") if isinstance(prediction, dict) else None)
    return name if isinstance(name, str) and name else None


def _task_ids(task_ids) -> list[int]:
    if not isinstance(task_ids, list | tuple) or not task_ids:
        raise InvalidAnswer("tasks must be a non-empty list of review task ids.", field="tasks")
    if len(task_ids) > MAX_TASKS:
        raise InvalidAnswer(f"tasks may hold at most {MAX_TASKS} ids; got {len(task_ids)}.", field="tasks")
    ids = []
    for value in task_ids:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAnswer(f"tasks must hold whole numbers; got {value!r}.", field="tasks")
        if value not in ids:
            ids.append(value)
    return ids


def _relabel_target(project: Project, label_id) -> Label:
    if label_id is None:
        raise InvalidAnswer("action 'relabel' needs a label id.", field="label")
    label = Label.objects.filter(project=project, pk=label_id).first() if isinstance(label_id, int) else None
    if label is None:
        raise InvalidAnswer(f"Label {label_id!r} is not a label of project '{project.slug}'.", field="label")
    return label


def bulk_review(project: Project, lead, *, action: str, task_ids, label_id=None) -> BulkResult:
    if action not in ACTIONS:
        raise InvalidAnswer(f"action must be one of: {', '.join(ACTIONS)}; got {action!r}.", field="action")
    ids = _task_ids(task_ids)
    chosen = _relabel_target(project, label_id) if action == RELABEL else None
    if action != RELABEL and label_id is not None:
        raise InvalidAnswer(f"label goes with action 'relabel' only, not {action!r}.", field="label")
    result = BulkResult(action)
    now = timezone.now()
    with transaction.atomic():
        tasks = {t.pk: t for t in ReviewTask.objects.select_for_update().filter(project=project, pk__in=ids)}
        labels = {lb.name: lb for lb in Label.objects.filter(project=project).order_by("-pk")}
        decided: dict[int, Label] = {}  # item id → label stored in this request
        for pk in ids:
            task = tasks.get(pk)
            if task is None:
                result.skipped.append({"task": pk, "reason": f"no review task {pk} in project '{project.slug}'"})
                continue
            if task.resolved_at is not None:
                result.skipped.append({"task": pk, "reason": "already resolved"})
                continue
            if action == DISMISS:
                ReviewTask.objects.filter(pk=pk).update(resolved_by=lead, resolved_at=now, outcome=ReviewTask.DISMISSED)
                result.done.append(pk)
                continue
            label = chosen
            if action == ACCEPT:
                name = model_label_name(task)
                label = labels.get(name) if name else None
                if label is None:
                    why = f"the model's label {name!r} is no longer a label of the project" if name else \
                        f"a {task.reason.replace('_', ' ')} task has no model label to accept"
                    result.skipped.append({"task": pk, "reason": why})
                    continue
            if task.item_id in decided:
                if decided[task.item_id] != label:
                    result.skipped.append({"task": pk, "reason": "its item was given another label in this request"})
                else:
                    result.done.append(pk)
                continue
            Annotation.objects.create(project=project, item_id=task.item_id, annotator=lead, label=label,
                                      origin=Annotation.ADJUDICATION)
            outcome = ReviewTask.ACCEPTED if action == ACCEPT else ReviewTask.RELABELED
            ReviewTask.objects.filter(project=project, item_id=task.item_id, resolved_at__isnull=True).update(
                resolved_label=label, resolved_by=lead, resolved_at=now, outcome=outcome)
            decided[task.item_id] = label
            result.done.append(pk)
        result.labeled_items = list(decided)
    for item in Item.objects.filter(pk__in=result.labeled_items).order_by("pk"):
        answer_saved.send(sender=Annotation, project=project, item=item)
    return result
