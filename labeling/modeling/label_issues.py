"""After a retrain: likely mislabeled items among the labeled ones go to the review queue as
``ReviewTask(reason="label_issue")``.

Every labeled item gets an out-of-fold probability from models of the version's own head and
options that did not train on it (``learner.oof_proba``); cleanlab's confident learning
(``learner.label_issues``) flags the items whose given label those models find improbable beyond
the estimated noise. With coarse → fine labels, a label is judged with its own branch: an item
answered only at the coarse level (its class holds only those answers) is right when the models put
it under one of that label's fine labels, and a fine answer when they put it in its coarse label's
class, so such a row's score is their summed probability and neither is ever suggested for the
other (``_branches``). Each task's detail names the given label, the suggested label, the score
(out-of-fold probability of the given label, with its own branch's where it has one; lower is more
suspicious) and the model version.

At most ``review_share_max`` of the labeled items are open as label issues at a time, the most
suspicious first. Open label issues of earlier versions whose item is no longer flagged (relabeled
meanwhile, or the new models agree with the label) close with outcome ``expired``; those still
flagged take the new figures.

A lead's decision that the given label stands holds: a dismissal, or resolving the issue as its
given label (the card's "Resolve as X", X's key, a bulk relabel to X: the same answer, stored as an
adjudication). An item whose last such decision let its label stand is not flagged again while its
label is that one; once the item's label changes, the new label is open to question again.

The scan reads the labels and those decisions, then trains its out-of-fold models (seconds to
minutes). What a lead or an annotator decided meanwhile is read again when the queue is written
(``_sync_tasks``, under the project's lock): an item whose label changed, or whose label a lead let
stand meanwhile, gets no task claiming the question the scan asked. A scan whose version is no
longer the active one when it writes leaves the queue to the version that serves (its own scan),
as the low-confidence routing does.

A task claims "labeled X": when an annotator changes or clears an answer so that the item's label
(``annotations.resolve``) is no longer X, ``close_answered_issues`` closes the task with outcome
``expired`` and a note that the answer changed, as ``sync_disagreement`` withdraws a disagreement.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.resolve import ANSWER_ORDER, Answer, resolve
from labeling.projects.models import Label, Project
from learner.label_issues import find_label_issues
from learner.oof_proba import out_of_fold_proba
from learner.training import TrainConfig

from . import selectors
from .embedding_store import vectors_for_items
from .models import ModelVersion
from .version_encoder import recorded_frozen_id

log = logging.getLogger(__name__)
MIN_LABELED = 20  # fewer labeled items leave too little for out-of-fold models and a noise estimate
FOLDS = 5


@dataclass
class LabelIssueScan:
    labeled: int = 0
    scored: int = 0  # labeled items that got an out-of-fold probability
    flagged: int = 0
    created: int = 0
    rescored: int = 0
    expired: int = 0
    cap: int = 0
    dismissed: int = 0  # flagged items whose label a lead already let stand (not queued)
    note: str = ""


def _train_config(version: ModelVersion) -> TrainConfig:
    stored = dict((version.config or {}).get("train") or {})
    known = set(TrainConfig.__dataclass_fields__)
    return TrainConfig.from_dict({k: v for k, v in stored.items() if k in known})


def scan_label_issues(version: ModelVersion) -> LabelIssueScan:
    """Find label issues with out-of-fold models of ``version``'s options and sync the queue."""
    project = version.project
    data = selectors.training_set(project)
    scan = LabelIssueScan(labeled=len(data), cap=math.floor(project.review_share_max * len(data) + 1e-9))
    flagged: dict[int, dict] = {}
    stands = dismissed_labels(project)
    kept = {item_id for item_id, label in zip(data.item_ids, data.labels, strict=True)
            if stands.get(item_id) == data.label_ids.get(label)}
    if len(data) < MIN_LABELED or len(set(data.labels)) < 2:
        scan.note = f"{len(data)} labeled items over {len(set(data.labels))} labels: too few to look for label issues"
    else:
        X = vectors_for_items(project.id, recorded_frozen_id(version), data.item_ids)
        rows, proba, classes = out_of_fold_proba(X, data.labels, groups=data.groups, config=_train_config(version),
                                                 folds=FOLDS)
        scan.scored = len(rows)
        if len(rows):
            index = {c: i for i, c in enumerate(classes)}
            y_idx = np.asarray([index[data.labels[r]] for r in rows])
            for issue in find_label_issues(y_idx, proba, classes, max_issues=scan.cap + len(kept),
                                           branches=_branches(classes, selectors.label_settings(project).parents)):
                item_id = data.item_ids[int(rows[issue["index"]])]
                if item_id in kept:
                    scan.dismissed += 1
                    continue
                # the labels by id too: accepting the suggestion stores that label whatever it is named then
                flagged[item_id] = {
                    "model_version": version.number, "given_label": issue["given_label"],
                    "given_label_id": data.label_ids.get(issue["given_label"]),
                    "suggested_label": issue["suggested_label"],
                    "suggested_label_id": data.label_ids.get(issue["suggested_label"]),
                    "score": round(issue["self_confidence"], 4),
                    "suggested_score": round(issue["suggested_confidence"], 4), "why": issue["reason"],
                }
    flagged = dict(list(flagged.items())[:scan.cap])
    scan.flagged = len(flagged)
    _sync_tasks(project, version, flagged, scan, kept)
    log.info("label issues for %s v%s: %s", project.slug, version.number, asdict(scan))
    return scan


def _branches(classes: list[str], parents: dict[str, str]) -> dict[int, list[int]]:
    """Column → the other columns of its own branch: a coarse label's class and its fine labels'
    (``parents``: fine → coarse name), which agree with it. Columns outside a tree are left out."""
    index = {c: i for i, c in enumerate(classes)}
    out: dict[int, list[int]] = {}
    for fine, coarse in parents.items():
        if fine in index and coarse in index and fine != coarse:
            out.setdefault(index[fine], []).append(index[coarse])
            out.setdefault(index[coarse], []).append(index[fine])
    return out


def dismissed_labels(project) -> dict[int, int]:
    """item id → the id of the given label a lead let stand when last deciding a label issue of the
    item that way: dismissed, or resolved as its given label (``close_with_label`` records that as
    ``relabeled``; it answers the issue's question as a dismissal does). By identity: renaming the
    label does not lift it. A task from before label ids were recorded names it: the label of that
    name now."""
    by_name = dict(Label.objects.filter(project=project).values_list("name", "id"))
    out: dict[int, int] = {}
    rows = (ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                      outcome__in=[ReviewTask.DISMISSED, ReviewTask.RELABELED])
            .order_by("resolved_at", "pk").values_list("item_id", "detail", "outcome", "resolved_label_id"))
    for item_id, detail, outcome, resolved_label_id in rows:
        detail = detail or {}
        given = detail["given_label_id"] if "given_label_id" in detail else by_name.get(detail.get("given_label"))
        if not isinstance(given, int):
            continue
        if outcome == ReviewTask.DISMISSED or resolved_label_id == given:
            out[item_id] = given
    return out


def _sync_tasks(project, version: ModelVersion, flagged: dict[int, dict], scan: LabelIssueScan,
                kept: set[int] = frozenset()) -> None:
    now = timezone.now()
    with transaction.atomic():
        # One writer of the queue per project at a time, ordered with activations (which take this
        # lock): a version replaced while its scan trained leaves the queue to the serving version's
        # scan. NO KEY, as routing takes it: answers and adjudications referencing the project go on.
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        active = ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).values_list(
            "number", flat=True).first()
        if active != version.number:
            serving = f"model v{active} serves now" if active is not None else "no model serves now"
            scan.note = f"model v{version.number} was replaced while its scan ran ({serving}): the queue is left to it"
            scan.created = scan.rescored = scan.expired = 0
            return
        open_tasks = list(ReviewTask.objects.select_for_update().filter(
            project=project, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True).order_by("pk"))
        # Read again once the open tasks are locked (a lead's decision on one has committed or waits):
        # the labels and the leads' decisions the scan read before its out-of-fold training are stale.
        flagged, kept = _still_in_question(project, flagged, kept, scan)
        keep, close = [], []
        for task in open_tasks:
            if task.item_id in flagged:
                task.detail = flagged[task.item_id]
                task.model_version = version.number
                keep.append(task)
            elif task.model_version != version.number or task.item_id in kept:
                task.resolved_at, task.outcome = now, ReviewTask.EXPIRED
                note = (f"a lead let the label {task.detail.get('given_label')!r} stand in a label issue of this item"
                        " before (dismissed, or resolved as it)" if task.item_id in kept else
                        f"model v{version.number}'s out-of-fold models no longer flag the label")
                task.detail = {**(task.detail or {}), "closed": note}
                close.append(task)
        ReviewTask.objects.bulk_update(keep, ["detail", "model_version"])
        ReviewTask.objects.bulk_update(close, ["resolved_at", "outcome", "detail"])
        scan.rescored, scan.expired = len(keep), len(close)
        taken = {t.item_id for t in open_tasks}
        room = scan.cap - (len(open_tasks) - len(close))
        # ``flagged`` is ordered most suspicious first
        new = [ReviewTask(project=project, item_id=item_id, reason=ReviewTask.LABEL_ISSUE,
                          model_version=version.number, detail=detail)
               for item_id, detail in flagged.items() if item_id not in taken][:max(room, 0)]
        ReviewTask.objects.bulk_create(new, ignore_conflicts=True)
        scan.created = len(new)


def _still_in_question(project, flagged: dict[int, dict], kept: set[int],
                       scan: LabelIssueScan) -> tuple[dict[int, dict], set[int]]:
    """``flagged`` without the items whose label is no longer the given label the scan flagged
    (relabeled, changed or cleared meanwhile: a task would claim a label the item does not have),
    nor those whose given label a lead let stand meanwhile (added to ``kept``, as the scan does
    with the decisions it read first)."""
    if not flagged:
        return flagged, kept
    stands = dismissed_labels(project)
    current = _item_label_ids(project, flagged)
    kept = set(kept)
    out = {}
    for item_id, detail in flagged.items():
        given = detail.get("given_label_id")
        if current.get(item_id) != given:
            scan.flagged -= 1
        elif stands.get(item_id) == given:
            kept.add(item_id)
            scan.flagged -= 1
            scan.dismissed += 1
        else:
            out[item_id] = detail
    return out, kept


def _item_label_ids(project, item_ids) -> dict[int, int]:
    """item id → its label now (of ``item_ids``), by the rule training reads labels with; an item no
    answer labels is left out."""
    rows = (Annotation.objects.filter(project=project, item_id__in=list(item_ids), undone=False, skipped=False,
                                      label__isnull=False)
            .order_by("item_id", *ANSWER_ORDER).values_list("item_id", "label_id", "origin"))
    answers: dict[int, list[Answer]] = {}
    for order, (item_id, label_id, origin) in enumerate(rows):
        answers.setdefault(item_id, []).append(Answer(label_id, origin, order))
    decided = {item_id: resolve(found) for item_id, found in answers.items()}
    return {item_id: d.label_id for item_id, d in decided.items() if d}


def _item_label_id(project, item_id: int) -> int | None:
    """The item's label now, by the rule training reads labels with; None when no answer labels it."""
    return _item_label_ids(project, [item_id]).get(item_id)


def close_answered_issues(project, item_id: int) -> int:
    """Close the item's open label issue when its given label is no longer the item's label (an
    answer was changed or cleared): its claim "labeled X" no longer holds. Call inside the
    transaction that changed the answer, with the item locked. Returns how many closed."""
    tasks = list(ReviewTask.objects.select_for_update().filter(
        project=project, item_id=item_id, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True).order_by("pk"))
    if not tasks:
        return 0
    current = _item_label_id(project, item_id)
    names = dict(Label.objects.filter(project=project).values_list("id", "name"))
    now = timezone.now()
    closed = []
    for task in tasks:
        detail = task.detail or {}
        given = detail.get("given_label_id")
        if given is None:  # a task from before label ids were recorded names its label
            given = next((pk for pk, name in names.items() if name == detail.get("given_label")), None)
        if given is not None and given == current:
            continue
        now_labeled = f"the item is now labeled {names[current]!r}" if current in names else "the item has no label now"
        note = f"the answer changed: {now_labeled}, no longer {detail.get('given_label')!r}"
        task.resolved_at, task.outcome, task.detail = now, ReviewTask.EXPIRED, {**detail, "closed": note}
        closed.append(task)
    ReviewTask.objects.bulk_update(closed, ["resolved_at", "outcome", "detail"])
    return len(closed)
