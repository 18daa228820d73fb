"""Routing the active model's doubtful predictions on unlabeled items to the leads' review queue,
and keeping that part of the queue current when a new model activates or the settings change.

Doubtful: the served model would not emit the prediction automatically (its own ``decide``,
reused through ``decision_rule``: the label it emits is below that label's threshold; with a
two-level taxonomy that may be the coarse label it falls back to, held to the coarse threshold a
lead's target on it set, even where the top fine class clears its own), or the probability of its
fine candidate (the label it emits, or on a fallback the fine label it held back) is inside the
band ``band_low`` ≤ p ≤ ``band_high`` (the planner's ``band`` strategy's). Nothing else is routed;
below the band's low end the model has no usable guess, and labeling from scratch is the waves'
work. A task proposes the fine candidate (what "accept" stores); its ``why`` names the coarse label
and its threshold where the fallback holds it back. The predict API: the same rule (``ReviewGate``).

Left out: labeled items, items a lead excluded and unanswered copies of an answered item (its
duplicate group holds one: ``labeling.projects.drawable``) (out of the pool, as the overview, the
planner and the estimates count it: nobody is to label them, the review queue included; a copy's
label is its answered duplicate's, and "accept" would store the model's guess beside it), items annotators are
to label (in an open or planned wave, or drawn with a known inclusion probability in any wave:
accepting the model's label there would make the prediction the truth of a pick the pool estimates
rely on), and items whose last low-confidence task a lead dismissed while the model predicted the
same label (it stands; another label asks again).

At most ``review_share_max`` of the scored unlabeled pool (excluded items and copies left out) is open at a
time; ``review_share_min`` never fills the queue with confident predictions (the version's
``metrics["review_routing"]`` and the review page say when less is routed). Each pass re-judges
every open task under the active version and the current band: still doubtful ones take its
prediction and number, the others close (outcome ``expired``); over the cap, the most confident
close first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.drawable import copies_of_answered
from labeling.projects.models import Project
from learner.training import TrainedClassifier

from . import selectors
from .models import ItemScore, ModelVersion
from .review_reads import copied_items, dismissed_predictions, excluded_items, waiting_items
from .review_rule import (
    CONFIDENT,
    Judgement,
    decision_rule,
    doubtful_decisions,
    fine_candidate,
    judge_decision,
    judge_prediction,
    project_band,
    task_detail,
)
from .scores import scores_matrix

# Why an excluded item's low-confidence task closed (by the exclusion, or a routing pass after it).
EXCLUDED_NOTE = "excluded by a lead: out of the pool, nobody is to label it"
COPY_NOTE = "a duplicate of it is answered: out of the pool, its label is that copy's"


@dataclass
class Routing:
    created: int = 0
    rescored: int = 0  # open tasks still doubtful under this version (before the cap)
    expired: int = 0  # open tasks closed because this version does not find them doubtful (or they left the pool)
    over_cap: int = 0  # open tasks closed to bring the queue back under the review share
    cap: int = 0
    open: int = 0  # low-confidence tasks open after this pass
    pool: int = 0  # scored unlabeled items a lead did not exclude, copies of answered items left out
    skipped: str = ""  # why nothing was done (the version is no longer the active one)

    def report(self, project) -> dict:
        share = self.open / self.pool if self.pool else 0.0
        return {"open": self.open, "pool": self.pool, "share": round(share, 4),
                "min_share": project.review_share_min, "max_share": project.review_share_max,
                "below_minimum": bool(self.pool) and share < project.review_share_min}


def _stored_scores(version: ModelVersion) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(item ids, top class, its probability as scored, float16 rows) of the version's stored
    scores (a row stored between the two reads waits for the next pass)."""
    ids, probs = scores_matrix(version)
    rows = np.array(list(ItemScore.objects.filter(model_version=version).order_by("item_id")
                         .values_list("item_id", "top_label", "top_prob")), dtype=np.float64).reshape(-1, 3)
    row_ids = rows[:, 0].astype(np.int64)
    at = np.minimum(np.searchsorted(ids, row_ids), max(len(ids) - 1, 0))
    found = (at < len(ids)) & (ids[at] == row_ids) if len(ids) else np.zeros(len(row_ids), bool)
    return row_ids[found], rows[found, 1].astype(np.int64), rows[found, 2], probs[at[found]]


def route_low_confidence(version: ModelVersion) -> int:
    """Re-judge the open low-confidence tasks under ``version``, then open tasks for its doubtful
    predictions up to the cap. Returns how many tasks were created (``route_review`` tells more)."""
    return route_review(version).created


def route_review(version: ModelVersion) -> Routing:
    with transaction.atomic():
        # One routing pass (or predict-API admission) per project at a time, with its current settings.
        # NO KEY (as the items' bulk exclude): a lead's decision locks its task, then stores an answer whose
        # foreign key takes FOR KEY SHARE here; FOR UPDATE would deadlock the two. New tasks check the labels again.
        project = Project.objects.select_for_update(no_key=True).get(pk=version.project_id)
        if not ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.ACTIVE).exists():
            return Routing(skipped=f"model v{version.number} is no longer the active version")
        return _route(version, project)


def _route(version: ModelVersion, project) -> Routing:
    band = project_band(project)
    labeled = set(selectors.resolve_item_labels(project))
    excluded = excluded_items(project)
    copies = copied_items(project)
    ids, top, top_prob, probs = _stored_scores(version)
    # the pool as the overview counts it (projects.selectors.IN_POOL): neither labeled nor excluded,
    # nor a copy of an answered item
    out = labeled | excluded | copies
    in_pool = ~np.isin(ids, np.fromiter(out, dtype=np.int64, count=len(out)))
    n = int(in_pool.sum())
    result = Routing(cap=math.floor(project.review_share_max * n + 1e-9), pool=n)
    waiting = waiting_items(project)
    dismissed = dismissed_predictions(project)
    labels = selectors.model_labels(version)
    rule = decision_rule(version)
    # every scored pool item annotators do not have, under the served model's decision
    rows = in_pool & ~np.isin(ids, np.fromiter(waiting, dtype=np.int64, count=len(waiting)))
    scored = set(ids[rows].tolist())
    doubtful = {item_id: decision for item_id, decision in zip(
        ids[rows].tolist(), doubtful_decisions(rule, band, top[rows], top_prob[rows], probs[rows]), strict=True)
        if decision is not None}
    now = timezone.now()
    # in id order, as every path that locks several open tasks (annotations.disagreement.lock_open_tasks)
    open_tasks = list(ReviewTask.objects.select_for_update().filter(
        project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True).order_by("pk"))
    # 1. Every open task, re-judged under this version and the project's band.
    keep, close, still_open = [], [], []
    for task in open_tasks:
        judgement = (judge_decision(rule, labels, band, doubtful[task.item_id]) if task.item_id in doubtful
                     else CONFIDENT if task.item_id in scored else _recorded(task, version, rule, labels, band))
        note = _closing_note(task, version, band, labels, judgement, labeled, (excluded, copies), waiting, dismissed)
        if note:
            _close(task, now, note)
            close.append(task)
            continue
        still_open.append(task)
        if judgement is not None:
            origin = {"origin": task.detail["origin"]} if "origin" in (task.detail or {}) else {}
            task.detail = {**task_detail(version, band, labels, judgement), "first_model_version": _first(task),
                           **origin}
            task.model_version = version.number
            keep.append(task)
    ReviewTask.objects.bulk_update(keep, ["detail", "model_version"])
    result.rescored, result.expired = len(still_open), len(close)
    # 2. The cap: the most confident open tasks close first.
    if len(still_open) > result.cap:
        still_open.sort(key=lambda t: (float((t.detail or {}).get("prob") or 0.0), t.pk))
        for task in still_open[result.cap:]:
            _close(task, now, f"over the review share ({result.cap} open tasks at most)")
            close.append(task)
            result.over_cap += 1
        still_open = still_open[:result.cap]
    ReviewTask.objects.bulk_update(close, ["resolved_at", "outcome", "detail"])
    # 3. New tasks, least confident first, into the room left.
    room = result.cap - len(still_open)
    if room > 0:
        taken = {t.item_id for t in open_tasks}
        column = {name: index for index, name in enumerate(labels.trained)}
        candidates = sorted((decision.get("fine_prob", decision["prob"]), item_id)
                            for item_id, decision in doubtful.items() if item_id not in taken and not _let_stand(
                                dismissed, labels, item_id, column[decision.get("fine_label", decision["label"])]))
        picks = [item_id for _, item_id in candidates[:room]]
        fresh = _labeled_now(project, picks)  # labeled while the pass waited for the open tasks' locks
        tasks = [ReviewTask(project=project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
                            model_version=version.number,
                            detail=task_detail(version, band, labels, judge_decision(rule, labels, band, doubtful[item_id])))
                 for item_id in picks if item_id not in fresh]
        ReviewTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
        result.created = len(tasks)
    result.open = len(still_open) + result.created
    version.metrics = {**(version.metrics or {}), "review_routing": result.report(project)}
    ModelVersion.objects.filter(pk=version.pk).update(metrics=version.metrics)
    return result


def _labeled_now(project, item_ids: list[int]) -> set[int]:
    """Those of ``item_ids`` a usable answer labels now (an answer may be newer than the pass's read)."""
    return set(Annotation.objects.filter(project=project, item_id__in=item_ids, undone=False, skipped=False,
                                         label__isnull=False).values_list("item_id", flat=True))


def _recorded(task: ReviewTask, version: ModelVersion, rule: TrainedClassifier, labels: selectors.ModelLabels,
              band: tuple[float, float]) -> Judgement | None:
    """A task without a stored score, judged again from its own figures when this version made
    them (a predict-API text newer than the pool's scores), else None: not judged, left as it is."""
    detail = task.detail or {}
    prob = detail.get("prob")
    if task.model_version != version.number or not isinstance(prob, int | float):
        return None
    if "predicted_label_id" in detail:
        column = labels.column_of_label(detail["predicted_label_id"])
    else:  # routed before label ids: by the name this version learned
        column = labels.column(selectors.predicted_name(detail))
    if column is None:
        return None
    served = (detail.get("prediction") or {}) if (detail.get("prediction") or {}).get("fallback") else {}
    return judge_prediction(rule, labels, band, {"label": labels.names[column], "prob": prob, **served,
                                                 "fine_label": labels.names[column], "fine_prob": prob})


def _let_stand(dismissed: dict[int, int], labels: selectors.ModelLabels, item_id: int, column: int | None) -> bool:
    """A lead dismissed the item's last low-confidence task while the model proposed this label."""
    return item_id in dismissed and column is not None and dismissed[item_id] == labels.ids[column]


def _closing_note(task, version, band, labels, judgement: Judgement | None, labeled, out_of_pool, waiting,
                  dismissed) -> str:
    """Why an open task closes, or "". ``out_of_pool``: (excluded items, copies of answered items)."""
    excluded, copies = out_of_pool
    if task.item_id in excluded:  # one the exclusion itself did not close (excluded before it did)
        return EXCLUDED_NOTE
    if task.item_id in copies:  # its duplicate was answered since the task opened
        return COPY_NOTE
    if task.item_id in labeled:
        return f"labeled meanwhile (model v{version.number})"
    if task.item_id in waiting:
        return "picked for a wave (or a pick the pool estimates rely on): annotators label it"
    if judgement is None:
        return ""
    if not judgement.why:
        return (f"model v{version.number} does not find the prediction doubtful (confident now, under the band "
                f"{band[0]:.2f}–{band[1]:.2f} and the thresholds)")
    if _let_stand(dismissed, labels, task.item_id, judgement.column):
        return f"a lead dismissed the prediction {labels.shown(labels.trained[judgement.column])!r} before: it stands"
    return ""


def _close_low_confidence(project, item_ids, note: str) -> int:
    """Close the open low-confidence tasks of these items, saying ``note``. Returns how many."""
    with transaction.atomic():
        tasks = list(ReviewTask.objects.select_for_update().filter(
            project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True, item_id__in=list(item_ids))
            .order_by("pk"))
        now = timezone.now()
        for task in tasks:
            _close(task, now, note)
        ReviewTask.objects.bulk_update(tasks, ["resolved_at", "outcome", "detail"])
    return len(tasks)


def release_wave_items(project, item_ids, wave_number: int) -> int:
    """Close the open low-confidence tasks of items just picked for a wave. Returns how many."""
    return _close_low_confidence(project, item_ids, f"picked for wave {wave_number}: annotators label it")


def close_excluded_items(project, item_ids) -> int:
    """Close the open low-confidence tasks of items a lead just excluded: the queue would ask the
    lead to label an item they took out so that nobody labels it (accepting would store a label
    that trains and exports). A lead's own request and a disagreement stay open. Returns how many."""
    return _close_low_confidence(project, item_ids, EXCLUDED_NOTE)


class ReviewGate:
    """The routing rule for texts that arrive through the predict API, under the active version:
    doubtful by the same decision and band (``judge``), never an item that routing leaves out, and
    never more open low-confidence tasks than the review share. Use inside a transaction that holds
    the project's row lock (``lock``), so that two requests cannot both take the last room."""

    def __init__(self, version: ModelVersion, project):
        self.version, self.project = version, project
        self.band = project_band(project)
        # the predict API names the version's classes by their labels' names now (predict_texts)
        self.labels = selectors.model_labels(version)
        self.rule = decision_rule(version)
        # the scored unlabeled pool (excluded items and copies left out, as routing does), counted in the database:
        # this runs on a predict request, where resolving every label of the project (as a routing
        # pass does) would cost a read of them all
        answered = Annotation.objects.filter(item_id=OuterRef("item_id"), undone=False, skipped=False,
                                             label__isnull=False)
        pool = (ItemScore.objects.filter(model_version=version, item__excluded=False).exclude(Exists(answered))
                .exclude(item__in=copies_of_answered(project).values("pk")).count())
        self.cap = math.floor(project.review_share_max * pool + 1e-9)
        self.open = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                              resolved_at__isnull=True).count()
        self._queued: set[int] = set()
        self._labeled: set[int] = set()
        self._excluded: set[int] = set()
        self._copies: set[int] = set()
        self._waiting: set[int] = set()
        self._dismissed: dict[int, int] = {}

    def know(self, item_ids) -> None:
        """Read at once what ``in_queue`` and ``left_out`` need to know about these existing
        items: six queries for a request, whatever the number of its texts."""
        ids = sorted({int(i) for i in item_ids})
        if not ids:
            return
        self._queued |= set(ReviewTask.objects.filter(item_id__in=ids, reason=ReviewTask.LOW_CONFIDENCE,
                                                      resolved_at__isnull=True).values_list("item_id", flat=True))
        self._labeled |= set(Annotation.objects.filter(item_id__in=ids, undone=False, skipped=False,
                                                       label__isnull=False).values_list("item_id", flat=True))
        self._excluded |= excluded_items(self.project, ids)
        self._copies |= copied_items(self.project, ids)
        self._waiting |= waiting_items(self.project, ids)
        self._dismissed.update(dismissed_predictions(self.project, ids))

    def in_queue(self, item_id: int) -> bool:
        """The item has an open low-confidence task (of the items ``know`` was told about); not an
        excluded item's (one left open from before the exclusion closed them: ``left_out`` says why)."""
        return item_id in self._queued and item_id not in self._excluded

    @staticmethod
    def lock(project) -> Project:
        return Project.objects.select_for_update(no_key=True).get(pk=project.pk)  # NO KEY, as route_review

    top = staticmethod(fine_candidate)

    def judge(self, prediction: dict) -> Judgement:
        """A predict row by the pool's rule (``judge_prediction``)."""
        return judge_prediction(self.rule, self.labels, self.band, prediction)

    def left_out(self, item_id: int, name: str | None) -> str:
        """Why an existing item (one ``know`` was told about) is not queued, or ""."""
        if item_id in self._excluded:
            return "the text is an item a lead excluded from the pool"
        if item_id in self._labeled:
            return "the text is a labeled item"
        if item_id in self._copies:
            return "the text is an item whose duplicate is answered (out of the pool)"
        if item_id in self._waiting:
            return "the text is an item annotators are to label (a wave's pick)"
        if _let_stand(self._dismissed, self.labels, item_id, self.labels.column_named(name)):
            return f"a lead dismissed the prediction {name!r} for this item before"
        return ""

    def full(self) -> str:
        if self.open < self.cap:
            return ""
        return (f"the review queue is full ({self.cap} open low-confidence tasks at most: "
                f"{self.project.review_share_max:.0%} of the scored unlabeled pool)")

    def open_task(self, item_id: int, name: str | None, prob: float, prediction: dict) -> None:
        """Open a task for a doubtful predict row, its detail from the whole row (``judge``)."""
        served = {k: v for k, v in prediction.items() if k in ("label", "coarse_label", "prob", "needs_review",
                                                                "fallback")}
        ReviewTask.objects.create(project=self.project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
                                  model_version=self.version.number,
                                  detail={**task_detail(self.version, self.band, self.labels, self.judge(prediction)),
                                          "origin": "predict_api", "prediction": served})
        self.open += 1
        self._queued.add(item_id)


def routing_report(project) -> dict | None:
    """What the active model's last routing pass left open, against the project's review shares."""
    version = ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).only("metrics", "number").first()
    report = ((version.metrics or {}).get("review_routing") if version else None)
    return {**report, "model_version": version.number} if report else None


def _first(task: ReviewTask):
    detail = task.detail or {}
    return detail.get("first_model_version", detail.get("model_version", task.model_version))


def _close(task: ReviewTask, now, note: str) -> None:
    task.resolved_at = now
    task.outcome = ReviewTask.EXPIRED
    task.detail = {**(task.detail or {}), "closed": note}
