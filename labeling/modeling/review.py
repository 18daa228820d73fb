"""Routing the active model's doubtful predictions on unlabeled items to the leads' review queue,
and keeping that part of the queue current when a new model activates or the settings change.

A prediction is doubtful when its calibrated top probability lies inside the project's
uncertainty band (``band_low`` ≤ p ≤ ``band_high``, the band the planner's ``band`` strategy
draws from) or below the tuned threshold of its predicted label. Nothing else is routed: with no
thresholds and nothing in the band the queue stays empty. Items below the band's low end are
not routed on the band alone: the model has no usable guess for them, so a review would be
labeling from scratch, which the waves do. The predict API routes live texts by the same rule
(``ReviewGate``).

Left out: labeled items, items annotators are to label (in an open or planned wave, or drawn
with a known inclusion probability in any wave: accepting the model's label there would make the
prediction the truth of a pick the pool estimates rely on), and
items whose last low-confidence task a lead dismissed while the model predicted the same label
(the prediction stands; a model that predicts another label asks again).

At most ``review_share_max`` of the scored unlabeled pool is open as low-confidence tasks at a
time. ``review_share_min`` never fills the queue with confident predictions (that flooded it with
work nobody needed); when the band and the thresholds route less than it, the version's report
says so (``metrics["review_routing"]``) and the review page tells the lead to widen the band or
set targets. Each pass re-judges every open task under the active version and the project's
current band: still doubtful ones take its prediction and number, the others are closed (outcome
``expired``); if the queue is over the cap, the most confident tasks close first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.projects.models import Project
from learner.jsonable import to_jsonable

from . import selectors
from .models import ItemScore, ModelVersion

COLUMNS = ("item_id", "top_label", "top_prob")
# labeling.waves.models.Wave.PLANNED / OPEN: the waves whose items annotators have or will have.
# Read through the item's relation (this package sits below labeling.waves and never imports it).
WAITING_WAVE_STATES = ("planned", "open")


@dataclass
class Routing:
    created: int = 0
    rescored: int = 0  # open tasks still doubtful under this version (before the cap)
    expired: int = 0  # open tasks closed because this version does not find them doubtful (or they left the pool)
    over_cap: int = 0  # open tasks closed to bring the queue back under the review share
    cap: int = 0
    open: int = 0  # low-confidence tasks open after this pass
    pool: int = 0  # scored unlabeled items
    skipped: str = ""  # why nothing was done (the version is no longer the active one)

    def report(self, project) -> dict:
        share = self.open / self.pool if self.pool else 0.0
        return {"open": self.open, "pool": self.pool, "share": round(share, 4),
                "min_share": project.review_share_min, "max_share": project.review_share_max,
                "below_minimum": bool(self.pool) and share < project.review_share_min}


def project_band(project) -> tuple[float, float]:
    return float(project.band_low), float(project.band_high)


def doubtful_q(version: ModelVersion, band: tuple[float, float]) -> Q:
    """ItemScore rows of ``version`` whose top probability is inside ``band`` or below the
    threshold of their top label."""
    low, high = band
    query = Q(top_prob__gte=low, top_prob__lte=high)
    for index in range(len(version.label_map)):
        threshold = _threshold(version, index)
        if threshold > 0:
            query |= Q(top_label=index, top_prob__lt=threshold)
    return query


def doubt(version: ModelVersion, band: tuple[float, float], column: int | None, prob: float,
          name: str | None = None) -> str:
    """Why a top prediction (the version's class ``column``, shown as ``name``) at ``prob`` is
    doubtful (the rule of ``doubtful_q``), or ""."""
    threshold = _threshold(version, column)
    why = []
    if band[0] <= prob <= band[1]:
        why.append(f"top probability {prob:.2f} inside the band {band[0]:.2f}–{band[1]:.2f}")
    if threshold > 0 and prob < threshold:
        why.append(f"below the threshold {threshold:.2f} of {name!r}")
    return "; ".join(why)


def _threshold(version: ModelVersion, column: int | None) -> float:
    # thresholds stay keyed by the names the version learned: looked up through its column
    value = (version.thresholds or {}).get(version.label_map[column]) if column is not None else None
    return float(value) if isinstance(value, int | float) else 0.0


def _detail(version: ModelVersion, band: tuple[float, float], labels: selectors.ModelLabels, column: int | None,
            prob: float) -> dict:
    """A low-confidence task's detail: the predicted label by its id (what accept stores and the
    queue groups by, whatever it is named later) and its name when routed."""
    name = labels.shown(labels.trained[column]) if column is not None else None
    return {"model_version": version.number, "predicted": labels.names[column] if column is not None else None,
            "predicted_label_id": labels.ids[column] if column is not None else None, "prob": round(float(prob), 4),
            "threshold": to_jsonable((version.thresholds or {}).get(labels.trained[column])) if column is not None
            else None,
            "band": [band[0], band[1]], "why": doubt(version, band, column, prob, name)}


def waiting_items(project, item_ids=None) -> set[int]:
    """Items of ``project`` (of ``item_ids`` when given) whose label must come from annotators: in
    an open or planned wave, or a pick with a known inclusion probability in any wave (one left
    unanswered when its wave closed is still in the pool estimates' sample: a label accepted from
    the model there would count the prediction as its truth)."""
    rows = Item.objects.filter(Q(wave_picks__wave__state__in=WAITING_WAVE_STATES)
                               | Q(wave_picks__inclusion_prob__isnull=False), project=project)
    if item_ids is not None:
        rows = rows.filter(pk__in=list(item_ids))
    return set(rows.values_list("pk", flat=True))


def dismissed_predictions(project, item_ids=None) -> dict[int, int]:
    """item id → the id of the label the model predicted when a lead last dismissed a
    low-confidence task of the item (the prediction the lead let stand, by identity: a rename
    does not lift it); of ``item_ids`` only, when given."""
    rows = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE, outcome=ReviewTask.DISMISSED)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    tasks = list(rows.order_by("resolved_at", "pk").only("pk", "item_id", "reason", "detail", "model_version"))
    proposed = selectors.proposed_labels(project, tasks)
    out: dict[int, int] = {}
    for task in tasks:
        if proposed.get(task.pk):
            out[task.item_id] = proposed[task.pk][0]
    return out


def route_low_confidence(version: ModelVersion) -> int:
    """Re-judge the open low-confidence tasks under ``version``, then open tasks for its doubtful
    predictions up to the cap. Returns how many tasks were created (``route_review`` tells more)."""
    return route_review(version).created


def route_review(version: ModelVersion) -> Routing:
    with transaction.atomic():
        # One routing pass (or predict-API admission) per project at a time, with its current settings.
        project = Project.objects.select_for_update().get(pk=version.project_id)
        if not ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.ACTIVE).exists():
            return Routing(skipped=f"model v{version.number} is no longer the active version")
        return _route(version, project)


def _route(version: ModelVersion, project) -> Routing:
    band = project_band(project)
    labeled = set(selectors.resolve_item_labels(project))
    scores = ItemScore.objects.filter(model_version=version).exclude(item_id__in=labeled)
    n = scores.count()
    result = Routing(cap=math.floor(project.review_share_max * n + 1e-9), pool=n)
    waiting = waiting_items(project)
    dismissed = dismissed_predictions(project)
    labels = selectors.model_labels(version)
    now = timezone.now()
    open_tasks = list(ReviewTask.objects.select_for_update().filter(
        project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True))
    # 1. Every open task, re-judged under this version and the project's band.
    rows = dict((item_id, (top, prob)) for item_id, top, prob in
                scores.filter(item_id__in=[t.item_id for t in open_tasks]).values_list(*COLUMNS))
    keep, close, still_open = [], [], []
    for task in open_tasks:
        column, prob = _judged(task, labels, version, rows)
        note = _closing_note(task, version, band, labels, column, prob, labeled, waiting, dismissed)
        if note:
            _close(task, now, note)
            close.append(task)
            continue
        still_open.append(task)
        if column is not None:
            origin = {"origin": task.detail["origin"]} if "origin" in (task.detail or {}) else {}
            task.detail = {**_detail(version, band, labels, column, prob), "first_model_version": _first(task),
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
        taken = {t.item_id for t in still_open} | {t.item_id for t in close} | waiting
        candidates = scores.filter(doubtful_q(version, band)).exclude(item_id__in=taken)
        by_label: dict[int, list[int]] = {}
        for item_id, label_id in dismissed.items():
            column = labels.column_of_label(label_id)
            if column is not None:
                by_label.setdefault(column, []).append(item_id)
        for top, item_ids in by_label.items():
            candidates = candidates.exclude(top_label=top, item_id__in=item_ids)
        chosen = list(candidates.order_by("top_prob", "item_id").values_list(*COLUMNS)[:room])
        tasks = [ReviewTask(project=project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
                            model_version=version.number,
                            detail=_detail(version, band, labels, top, prob))
                 for item_id, top, prob in chosen]
        ReviewTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
        result.created = len(tasks)
    result.open = len(still_open) + result.created
    version.metrics = {**(version.metrics or {}), "review_routing": result.report(project)}
    ModelVersion.objects.filter(pk=version.pk).update(metrics=version.metrics)
    return result


def _judged(task: ReviewTask, labels: selectors.ModelLabels, version: ModelVersion, rows: dict
            ) -> tuple[int | None, float | None]:
    """(the version's predicted class, top probability) of the task's item under ``version``: its
    stored score, else the task's own figures when this version made them (a predict-API text that
    arrived after the pool was scored), else (None, None): not judged, left as it is."""
    if task.item_id in rows:
        top, prob = rows[task.item_id]
        return top, float(prob)
    detail = task.detail or {}
    prob = detail.get("prob")
    if task.model_version != version.number or not isinstance(prob, int | float):
        return None, None
    if "predicted_label_id" in detail:
        column = labels.column_of_label(detail["predicted_label_id"])
    else:  # routed before label ids: by the name this version learned
        column = labels.column(selectors.predicted_name(detail))
    return (column, float(prob)) if column is not None else (None, None)


def _closing_note(task, version, band, labels, column, prob, labeled, waiting, dismissed) -> str:
    if task.item_id in labeled:
        return f"labeled meanwhile (model v{version.number})"
    if task.item_id in waiting:
        return "picked for a wave (or a pick the pool estimates rely on): annotators label it"
    if column is None:
        return ""
    name = labels.shown(labels.trained[column])
    if not doubt(version, band, column, prob, name):
        return (f"model v{version.number} does not find the prediction doubtful (confident now, under the band "
                f"{band[0]:.2f}–{band[1]:.2f} and the thresholds)")
    if labels.ids[column] is not None and dismissed.get(task.item_id) == labels.ids[column]:
        return f"a lead dismissed the prediction {name!r} before: it stands"
    return ""


def release_wave_items(project, item_ids, wave_number: int) -> int:
    """Close the open low-confidence tasks of items just picked for a wave. Returns how many."""
    with transaction.atomic():
        tasks = list(ReviewTask.objects.select_for_update().filter(
            project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True, item_id__in=list(item_ids)))
        now = timezone.now()
        for task in tasks:
            _close(task, now, f"picked for wave {wave_number}: annotators label it")
        ReviewTask.objects.bulk_update(tasks, ["resolved_at", "outcome", "detail"])
    return len(tasks)


class ReviewGate:
    """The routing rule for texts that arrive through the predict API, under the active version:
    doubtful by the same band and thresholds, never an item that routing leaves out, and never
    more open low-confidence tasks than the review share. Use inside a transaction that holds
    the project's row lock (``lock``), so that two requests cannot both take the last room."""

    def __init__(self, version: ModelVersion, project):
        self.version, self.project = version, project
        self.band = project_band(project)
        # the predict API names the version's classes by their labels' names now (predict_texts)
        self.labels = selectors.model_labels(version)
        # the scored unlabeled pool, counted in the database: this runs on a predict request, where
        # resolving every label of the project (as a routing pass does) would cost a read of them all
        answered = Annotation.objects.filter(item_id=OuterRef("item_id"), undone=False, skipped=False,
                                             label__isnull=False)
        pool = ItemScore.objects.filter(model_version=version).exclude(Exists(answered)).count()
        self.cap = math.floor(project.review_share_max * pool + 1e-9)
        self.open = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                              resolved_at__isnull=True).count()
        self._queued: set[int] = set()
        self._labeled: set[int] = set()
        self._waiting: set[int] = set()
        self._dismissed: dict[int, int] = {}

    def know(self, item_ids) -> None:
        """Read at once what ``in_queue`` and ``left_out`` need to know about these existing
        items: four queries for a request, whatever the number of its texts."""
        ids = sorted({int(i) for i in item_ids})
        if not ids:
            return
        self._queued |= set(ReviewTask.objects.filter(item_id__in=ids, reason=ReviewTask.LOW_CONFIDENCE,
                                                      resolved_at__isnull=True).values_list("item_id", flat=True))
        self._labeled |= set(Annotation.objects.filter(item_id__in=ids, undone=False, skipped=False,
                                                       label__isnull=False).values_list("item_id", flat=True))
        self._waiting |= waiting_items(self.project, ids)
        self._dismissed.update(dismissed_predictions(self.project, ids))

    def in_queue(self, item_id: int) -> bool:
        """The item has an open low-confidence task (of the items ``know`` was told about)."""
        return item_id in self._queued

    @staticmethod
    def lock(project) -> Project:
        return Project.objects.select_for_update().get(pk=project.pk)

    @staticmethod
    def top(prediction: dict) -> tuple[str | None, float]:
        """The top label and its probability of a predict row (as ItemScore stores them); no label
        (None) when the top class's label was deleted since the version trained."""
        probabilities = prediction.get("probabilities") or {}
        if not probabilities or (prediction.get("label") is None and not prediction.get("fallback")):
            return prediction.get("label"), float(prediction.get("prob") or 0.0)
        name = max(probabilities, key=probabilities.get)
        prob = prediction["prob"] if prediction.get("label") == name else probabilities[name]
        return name, float(prob)

    def doubt(self, name: str | None, prob: float) -> str:
        return doubt(self.version, self.band, self.labels.column_named(name), prob, name)

    def left_out(self, item_id: int, name: str | None) -> str:
        """Why an existing item (one ``know`` was told about) is not queued, or ""."""
        if item_id in self._labeled:
            return "the text is a labeled item"
        if item_id in self._waiting:
            return "the text is an item annotators are to label (a wave's pick)"
        column = self.labels.column_named(name)
        if column is not None and self._dismissed.get(item_id) == self.labels.ids[column]:
            return f"a lead dismissed the prediction {name!r} for this item before"
        return ""

    def full(self) -> str:
        if self.open < self.cap:
            return ""
        return (f"the review queue is full ({self.cap} open low-confidence tasks at most: "
                f"{self.project.review_share_max:.0%} of the scored unlabeled pool)")

    def open_task(self, item_id: int, name: str | None, prob: float, prediction: dict) -> None:
        served = {k: v for k, v in prediction.items() if k in ("label", "coarse_label", "prob", "needs_review",
                                                                "fallback")}
        ReviewTask.objects.create(project=self.project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
                                  model_version=self.version.number,
                                  detail={**_detail(self.version, self.band, self.labels,
                                                    self.labels.column_named(name), prob), "origin": "predict_api",
                                          "prediction": served})
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
