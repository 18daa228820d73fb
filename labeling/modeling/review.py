"""Routing the active model's doubtful predictions on unlabeled items to the leads' review queue,
and keeping that part of the queue current when a new model activates.

A prediction is doubtful when its calibrated top probability lies inside the project's
uncertainty band (``band_low`` ≤ p ≤ ``band_high``, the band the planner's ``band`` strategy
draws from) or below the tuned threshold of its predicted label. Nothing else is routed: with no
thresholds and nothing in the band the queue stays empty. Items below the band's low end are
not routed on the band alone: the model has no usable guess for them, so a review would be
labeling from scratch, which the waves do.

At most ``review_share_max`` of the scored unlabeled pool is open as low-confidence tasks at a
time. ``review_share_min`` never fills the queue with confident predictions (that flooded it with
work nobody needed); when the band and the thresholds route less than it, the version's report
says so (``metrics["review_routing"]``) and the review page tells the lead to widen the band or
set targets. When a new version activates, the open tasks of older versions are re-scored under it:
still doubtful ones take its prediction and number, the others are closed (outcome
``expired``); if the queue is over the cap, the most confident tasks close first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.annotations.models import ReviewTask
from learner.jsonable import to_jsonable

from . import selectors
from .models import ItemScore, ModelVersion

COLUMNS = ("item_id", "top_label", "top_prob")


@dataclass
class Routing:
    created: int = 0
    rescored: int = 0  # open tasks of older versions that stay open under this one
    expired: int = 0  # open tasks closed because this version does not find them doubtful
    over_cap: int = 0  # open tasks closed to bring the queue back under the review share
    cap: int = 0
    open: int = 0  # low-confidence tasks open after this pass
    pool: int = 0  # scored unlabeled items

    def report(self, project) -> dict:
        share = self.open / self.pool if self.pool else 0.0
        return {"open": self.open, "pool": self.pool, "share": round(share, 4),
                "min_share": project.review_share_min, "max_share": project.review_share_max,
                "below_minimum": bool(self.pool) and share < project.review_share_min}


def doubtful_q(version: ModelVersion, band: tuple[float, float]) -> Q:
    """ItemScore rows of ``version`` whose top probability is inside ``band`` or below the
    threshold of their top label."""
    low, high = band
    query = Q(top_prob__gte=low, top_prob__lte=high)
    for index, name in enumerate(version.label_map):
        threshold = _threshold(version, name)
        if threshold > 0:
            query |= Q(top_label=index, top_prob__lt=threshold)
    return query


def _threshold(version: ModelVersion, name: str) -> float:
    value = (version.thresholds or {}).get(name)
    return float(value) if isinstance(value, int | float) else 0.0


def _detail(version: ModelVersion, band: tuple[float, float], top: int, prob: float) -> dict:
    name = version.label_map[top]
    threshold = _threshold(version, name)
    why = []
    if band[0] <= prob <= band[1]:
        why.append(f"top probability {prob:.2f} inside the band {band[0]:.2f}–{band[1]:.2f}")
    if threshold > 0 and prob < threshold:
        why.append(f"below the threshold {threshold:.2f} of {name!r}")
    return {"model_version": version.number, "predicted": name, "prob": round(float(prob), 4),
            "threshold": to_jsonable((version.thresholds or {}).get(name)),
            "band": [band[0], band[1]], "why": "; ".join(why)}


def route_low_confidence(version: ModelVersion) -> int:
    """Re-score the open low-confidence tasks under ``version``, then open tasks for its doubtful
    predictions up to the cap. Returns how many tasks were created (``route_review`` tells more)."""
    return route_review(version).created


def route_review(version: ModelVersion) -> Routing:
    project = version.project
    band = (float(project.band_low), float(project.band_high))
    labeled = list(selectors.resolve_item_labels(project))
    scores = ItemScore.objects.filter(model_version=version).exclude(item_id__in=labeled)
    n = scores.count()
    result = Routing(cap=math.floor(project.review_share_max * n + 1e-9))
    doubtful = scores.filter(doubtful_q(version, band))
    now = timezone.now()
    with transaction.atomic():
        open_tasks = list(
            ReviewTask.objects.select_for_update().filter(
                project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True
            )
        )
        # 1. Tasks of other versions: re-scored under this one, or closed.
        stale = [t for t in open_tasks if t.model_version != version.number]
        rows = {item_id: (top, prob) for item_id, top, prob in
                doubtful.filter(item_id__in=[t.item_id for t in stale]).values_list(*COLUMNS)}
        keep, close = [], []
        for task in stale:
            if task.item_id in rows:
                top, prob = rows[task.item_id]
                task.detail = {**_detail(version, band, top, prob), "first_model_version": _first(task)}
                task.model_version = version.number
                keep.append(task)
            else:
                _close(task, now, f"model v{version.number} does not find the prediction doubtful "
                                  "(labeled meanwhile, or confident now)")
                close.append(task)
        ReviewTask.objects.bulk_update(keep, ["detail", "model_version"])
        result.rescored, result.expired = len(keep), len(close)
        # 2. The cap: the most confident open tasks close first.
        closed = {t.pk for t in close}
        still_open = [t for t in open_tasks if t.pk not in closed]
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
            taken = {t.item_id for t in still_open}
            chosen = list(doubtful.exclude(item_id__in=taken).order_by("top_prob", "item_id")
                          .values_list(*COLUMNS)[:room])
            tasks = [ReviewTask(project=project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
                                model_version=version.number, detail=_detail(version, band, top, prob))
                     for item_id, top, prob in chosen]
            ReviewTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
            result.created = len(tasks)
        result.open, result.pool = len(still_open) + result.created, n
        version.metrics = {**(version.metrics or {}), "review_routing": result.report(project)}
        ModelVersion.objects.filter(pk=version.pk).update(metrics=version.metrics)
    return result


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
