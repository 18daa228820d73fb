"""Routing the active model's least confident predictions on unlabeled items to the leads'
review queue."""
from __future__ import annotations

import math

from django.db.models import Q

from labeling.annotations.models import ReviewTask
from learner.jsonable import to_jsonable

from . import selectors
from .models import ItemScore, ModelVersion


def route_low_confidence(version: ModelVersion) -> int:
    """Open ReviewTask(low_confidence) for the least confident unlabeled predictions.

    Candidates are predictions whose top probability is below their label's threshold, least
    confident first, at most ``review_share_max`` of the scored unlabeled pool. When fewer than
    ``review_share_min`` are below threshold, the least confident predictions overall top the
    queue up to that share, so leads always audit a steady sample. Open tasks from earlier
    versions count against the cap. Returns how many tasks were created. The selection runs in
    the database: only the routed rows come back.
    """
    project = version.project
    labeled = list(selectors.resolve_item_labels(project))
    scores = ItemScore.objects.filter(model_version=version).exclude(item_id__in=labeled)
    n = scores.count()
    if n == 0:
        return 0
    cap = math.floor(project.review_share_max * n + 1e-9)
    floor_count = min(cap, math.ceil(project.review_share_min * n - 1e-9))
    open_items = set(
        ReviewTask.objects.filter(
            project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True
        ).values_list("item_id", flat=True)
    )
    room = cap - len(open_items)
    if room <= 0:
        return 0
    label_map = version.label_map
    thresholds = version.thresholds or {}
    below_q = Q(pk__in=[])
    for index, name in enumerate(label_map):
        threshold = float(thresholds.get(name, 0.0) or 0.0)
        if threshold > 0:
            below_q |= Q(top_label=index, top_prob__lt=threshold)
    columns = ("item_id", "top_label", "top_prob")
    chosen = list(scores.filter(below_q).order_by("top_prob", "item_id").values_list(*columns)[:cap])
    if len(chosen) < floor_count:
        picked = [r[0] for r in chosen]
        chosen += list(
            scores.exclude(item_id__in=picked).order_by("top_prob", "item_id").values_list(*columns)[
                : floor_count - len(chosen)
            ]
        )
    new = [r for r in chosen if r[0] not in open_items][:room]
    tasks = [
        ReviewTask(
            project=project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
            detail={
                "model_version": version.number, "predicted": label_map[top], "prob": round(float(prob), 4),
                "threshold": to_jsonable(thresholds.get(label_map[top])),
            },
        )
        for item_id, top, prob in new
    ]
    ReviewTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
    return len(tasks)
