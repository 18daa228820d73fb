"""Reads of the review queue page and API: open tasks grouped by the label the model proposes
(the prediction of a low-confidence task, the suggested label of a label issue; tasks without a
model label, such as disagreements, form the last group).

The model's label is read by its identity (the label id the task recorded, or the one the model
version that routed it recorded for the name it learned) and shown by its name now: a label renamed
since keeps its tasks, and two labels that swapped names each keep their own."""
from __future__ import annotations

import json
import re

from labeling.modeling.selectors import PROPOSAL_KEYS, proposed_labels
from labeling.projects.models import Project

from .models import ReviewTask
from .selectors import labels_payload, review_queue

NO_MODEL_LABEL = "(no model label)"


def review_groups(project: Project, *, reason: str | None = None, limit: int = 500) -> dict:
    """``{"labels": [...], "groups": [{"label", "label_id", "tasks": [ReviewTask]}], "shown", "open"}``.
    Groups follow the project's label order; each task carries ``answers``, ``proposed``,
    ``detail_rows`` (``add_proposals``) and ``model_label`` (name or None)."""
    tasks = review_queue(project, reason=reason, limit=limit)
    labels = labels_payload(project)
    proposed = show_current_names(project, tasks, labels)
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


def show_current_names(project: Project, tasks: list[ReviewTask], labels: list[dict] | None = None) -> dict:
    """Each task's ``detail`` replaced by its copy under the labels' names now (``current_names``; nothing is
    stored), for the review page and API; returns proposed_labels' answer (task pk → (id, name now) or None)."""
    names = {label["id"]: label["name"] for label in (labels if labels is not None else labels_payload(project))}
    proposed = proposed_labels(project, tasks)
    for task in tasks:
        task.detail = current_names(task, proposed.get(task.pk), names)
    return proposed


def current_names(task: ReviewTask, proposed: tuple[int, str] | None, names: dict[int, str]) -> dict:
    """The task's detail as the page shows it (a copy; nothing is stored): the model's label and a
    label issue's given label under their names now, where the task knows which labels they are; a
    disagreement's answers by their label ids; and the "why" line, written when the task was routed,
    with those labels' names then replaced by their names now (after a swap of two names, each its own)."""
    stored = task.detail or {}
    detail = dict(stored)
    id_key, name_key = PROPOSAL_KEYS.get(task.reason, (None, None))
    renamed = {}  # name when routed → name now
    if proposed and name_key in detail:
        detail[name_key] = proposed[1]
        renamed[stored[name_key]] = proposed[1]
    if proposed and id_key:
        detail[id_key] = proposed[0]
    if isinstance(detail.get("given_label_id"), int) and detail["given_label_id"] in names:
        detail["given_label"] = names[detail["given_label_id"]]
        renamed[stored.get("given_label")] = detail["given_label"]
    if isinstance(detail.get("why"), str):
        detail["why"] = renamed_in(detail["why"], renamed)
    if isinstance(stored.get("answers"), list):  # a disagreement's answers, each with its label's id
        detail["answers"] = [{**answer, "label": names[answer["label_id"]]}
                             if isinstance(answer, dict) and answer.get("label_id") in names else answer
                             for answer in stored["answers"]]
    return detail


def renamed_in(text: str, renamed: dict) -> str:
    """``text`` with each quoted name (written as repr writes it, as the routing wrote it) of ``renamed``
    replaced by its name now, all at once: two names swapped since each become the other's."""
    quoted = {repr(old): repr(new) for old, new in renamed.items() if isinstance(old, str) and old != new}
    if not quoted:
        return text
    pattern = re.compile("|".join(re.escape(old) for old in sorted(quoted, key=len, reverse=True)))
    return pattern.sub(lambda match: quoted[match.group(0)], text)


def add_proposals(tasks: list[ReviewTask], labels: list[dict]) -> None:
    """For the adjudication page: ``task.proposed`` (labels the evidence proposes: the annotators'
    answers, then the model's prediction) and ``task.detail_rows`` (the detail as text rows)."""
    names = {label["id"]: label["name"] for label in labels}
    ids_by_name = {label["name"]: label["id"] for label in labels}
    for task in tasks:
        proposed = []
        for answer in getattr(task, "answers", []):
            if answer.label_id and answer.label_id not in proposed:
                proposed.append(answer.label_id)
        predicted = _predicted_label_id(task.detail or {}, ids_by_name)
        if predicted in names and predicted not in proposed:
            proposed.append(predicted)
        task.proposed = [{"id": pk, "name": names[pk]} for pk in proposed if pk in names]
        task.detail_rows = _detail_rows(task.detail or {})


def _predicted_label_id(detail: dict, ids_by_name: dict) -> int | None:
    """The model's label in a low-confidence task's detail, in the shapes the learner writes:
    {"predicted": name} (pool scoring) or {"prediction": {"label": name}} (predict API)."""
    if isinstance(detail.get("predicted_label_id"), int):
        return detail["predicted_label_id"]
    prediction = detail.get("prediction")
    name = detail.get("predicted") or (prediction.get("label") if isinstance(prediction, dict) else None)
    return ids_by_name.get(name) if isinstance(name, str) else None


def _detail_rows(detail: dict) -> list[tuple[str, str]]:
    """A task's detail as (key, text) rows, one level of nesting flattened ("prediction.prob")."""
    rows = []
    for key, value in detail.items():
        if key == "answers":  # shown from the annotations themselves
            continue
        if isinstance(value, dict):
            rows.extend((f"{key}.{k}", _plain(v)) for k, v in value.items())
        else:
            rows.append((str(key), _plain(value)))
    return sorted(rows)


def _plain(value) -> str:
    return "—" if value is None else value if isinstance(value, str) else json.dumps(value)
