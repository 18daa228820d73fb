"""Reads for the learner's Django side: the training set, the label taxonomy and targets,
model versions and task progress."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from labeling.annotations.models import Annotation
from labeling.projects.models import Label

from .models import ModelVersion, TaskRun


@dataclass
class TrainingSet:
    """One row per labeled item, in item-id order."""

    item_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    text_hashes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.item_ids)


def resolve_item_labels(project) -> dict[int, int]:
    """item id → label id for every item with a usable answer.

    Usable: not undone, not skipped, origin annotator / import / adjudication. Where an item has
    several, an adjudication wins (the newest one); otherwise the majority label; ties go to the
    label answered most recently.
    """
    rows = (
        Annotation.objects.filter(project=project, undone=False, skipped=False, label__isnull=False)
        .order_by("item_id", "created_at", "id")
        .values_list("item_id", "label_id", "origin")
    )
    by_item: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for item_id, label_id, origin in rows:
        by_item[item_id].append((label_id, origin))
    resolved: dict[int, int] = {}
    for item_id, answers in by_item.items():
        adjudicated = [label_id for label_id, origin in answers if origin == Annotation.ADJUDICATION]
        if adjudicated:
            resolved[item_id] = adjudicated[-1]
            continue
        counts = Counter(label_id for label_id, _ in answers)
        best = max(counts.values())
        # Answers are oldest first: the last one among the tied labels is the newest.
        tied = {label_id for label_id, n in counts.items() if n == best}
        resolved[item_id] = next(label_id for label_id, _ in reversed(answers) if label_id in tied)
    return resolved


def training_set(project) -> TrainingSet:
    from labeling.items.models import Item

    resolved = resolve_item_labels(project)
    names = dict(Label.objects.filter(project=project).values_list("id", "name"))
    items = Item.objects.filter(id__in=list(resolved)).order_by("id").values_list("id", "dup_group", "text_hash")
    data = TrainingSet()
    for item_id, dup_group, text_hash in items:
        data.item_ids.append(item_id)
        data.labels.append(names[resolved[item_id]])
        # An item with no near-duplicate group is its own group.
        data.groups.append(dup_group if dup_group is not None else item_id)
        data.text_hashes.append(text_hash)
    return data


def label_parents(project) -> dict[str, str]:
    """fine label name → coarse (parent) label name, for two-level taxonomies."""
    return {
        name: parent
        for name, parent in Label.objects.filter(project=project, parent__isnull=False).values_list(
            "name", "parent__name"
        )
    }


def label_targets(project) -> dict[str, dict[str, float]]:
    """label name → {"precision": p} or {"recall": r}. A label with both keeps precision: a
    threshold can aim at one of them, and precision is what protects downstream users."""
    targets: dict[str, dict[str, float]] = {}
    for name, precision, recall in Label.objects.filter(project=project).values_list(
        "name", "precision_target", "recall_target"
    ):
        if precision is not None:
            targets[name] = {"precision": float(precision)}
        elif recall is not None:
            targets[name] = {"recall": float(recall)}
    return targets


def labels_since(project, since) -> int:
    """Usable answers stored after ``since`` (all of them when None)."""
    qs = Annotation.objects.filter(project=project, undone=False, skipped=False)
    if since is not None:
        qs = qs.filter(created_at__gt=since)
    return qs.count()


def active_version(project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).first()


def model_versions(project):
    return ModelVersion.objects.filter(project=project).defer("artifact").order_by("-number")


def open_retrain_run(project) -> TaskRun | None:
    return (
        TaskRun.objects.filter(project=project, kind="retrain", state__in=[TaskRun.PENDING, TaskRun.RUNNING])
        .order_by("-created_at")
        .first()
    )


def last_retrain_run(project) -> TaskRun | None:
    return TaskRun.objects.filter(project=project, kind="retrain").order_by("-created_at", "-id").first()


def task_runs(project, *, limit: int = 50):
    return TaskRun.objects.filter(project=project).order_by("-created_at", "-id")[:limit]


def task_run_dict(run: TaskRun) -> dict:
    """The JSON the pages and the API show for a TaskRun."""
    return {
        "id": run.id,
        "project": run.project.slug if run.project_id else None,
        "kind": run.kind,
        "state": run.state,
        "progress": round(float(run.progress), 4),
        "message": run.message,
        "detail": run.detail,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "updated_at": run.updated_at.isoformat() if run.updated_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
