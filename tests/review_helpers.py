"""Builders for the review-queue tests (no tests here): items and model versions whose stored
pool scores are set by hand, so routing is checked against probabilities the test chose."""
from __future__ import annotations

import numpy as np
from django.db.models import F

from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from learner.scoring import pack_probs
from learner.text import text_hash


def make_items(project, n: int, prefix: str = "item") -> list[Item]:
    source = project.sources.first()
    items = [Item.objects.create(project=project, source=source, text=f"{prefix} {i}",
                                 text_hash=text_hash(f"{prefix} {i}")) for i in range(n)]
    # each its own duplicate group, as the importer founds them: the texts differ only in digits,
    # which the exact hash masks, so without a group the planner (and the pool) read them as copies
    Item.objects.filter(pk__in=[item.pk for item in items]).update(dup_group=F("id"))
    for item in items:
        item.dup_group = item.pk
    return items


def add_version(project, number: int, scores: dict[int, tuple[int, float]], *, thresholds=None,
                state=ModelVersion.ACTIVE) -> ModelVersion:
    """A version of ``project`` (labels in the project's order) whose ItemScore rows give item
    ``item_id`` the top label ``scores[item_id][0]`` with top probability ``scores[item_id][1]``
    (the rest spread evenly). Earlier active versions are retired."""
    names = list(project.labels.order_by("order", "name").values_list("name", flat=True))
    if state == ModelVersion.ACTIVE:
        ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).update(state=ModelVersion.RETIRED)
    version = ModelVersion.objects.create(project=project, number=number, state=state, label_map=names,
                                          thresholds=thresholds or {})
    rows = []
    k = len(names)
    for item_id, (top, prob) in scores.items():
        p = np.full(k, (1.0 - prob) / (k - 1))
        p[top] = prob
        rows.append(ItemScore(item_id=item_id, model_version=version, probs=pack_probs(p), top_label=top,
                              top_prob=prob, margin=prob - float(np.sort(p)[-2]), entropy=0.0))
    ItemScore.objects.bulk_create(rows)
    return version
