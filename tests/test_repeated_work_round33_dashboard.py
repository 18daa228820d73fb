"""The dashboard's pool threshold rows cost the same number of queries whatever the number of
labels (they were two counts per label, each reading the version's scores again), and still count
what the stored scores emit: a fallback as its coarse label, a NULL ``fallback`` as no fallback,
a row below its own label's threshold (strictly) as routed to review."""
import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import pool_threshold_rows
from labeling.modeling.selectors import model_labels
from labeling.projects.models import Label
from learner.text import text_hash
from tests.test_fallback_shown_pages import fixed_head_bytes

pytestmark = pytest.mark.django_db
GROUPS = ("north", "south", "east")


def scored_version(project, number: int, n_fine: int, seed: int):
    """A coarse → fine version over ``n_fine`` fine labels (fine<i> under GROUPS[i % 3]) with
    hand-made stored scores: per label a few rows each of fallback False, NULL and True, and
    thresholds on most labels. Returns (version, classes, parents, thresholds, stored rows)."""
    classes = [f"fine{i}" for i in range(n_fine)]
    parents = {name: GROUPS[i % len(GROUPS)] for i, name in enumerate(classes)}
    for name in [*GROUPS, *classes]:
        Label.objects.get_or_create(project=project, name=name, defaults={"hotkey": ""})
    # no threshold on every fourth label; the others between .3 and .7
    thresholds = {name: 0.3 + 0.1 * (i % 5) for i, name in enumerate(classes) if i % 4}
    version = ModelVersion.objects.create(project=project, number=number, state=ModelVersion.ACTIVE, train_size=10,
                                          label_map=classes, metrics={}, thresholds=thresholds,
                                          artifact=fixed_head_bytes(tuple(classes), parents))
    rng = np.random.default_rng(seed)
    rows = []  # (top label column, top probability, fallback)
    for column, name in enumerate(classes):
        for fallback in (False, None, True):
            rows += [(column, float(p), fallback) for p in rng.uniform(0.05, 0.95, size=3)]
        if name in thresholds:
            rows.append((column, thresholds[name], False))  # at the threshold: not below it
    items = Item.objects.bulk_create(
        Item(project=project, text=f"v{number} item {i}", text_hash=text_hash(f"v{number} item {i}"))
        for i in range(len(rows)))
    ItemScore.objects.bulk_create(
        ItemScore(item=item, model_version=version, probs=bytes(2 * n_fine), top_label=column, top_prob=prob,
                  margin=0.1, entropy=0.5, fallback=fallback)
        for item, (column, prob, fallback) in zip(items, rows, strict=True))
    return version, classes, parents, thresholds, rows


def expected_rows(classes, parents, thresholds, rows) -> dict[str, tuple]:
    """label → (threshold, predicted share, review share), counted here from the rows made."""
    total = len(rows)
    out = {}
    for column, name in enumerate(classes):
        emitting = [prob for top, prob, fallback in rows if top == column and fallback is not True]
        threshold = thresholds.get(name, 0.0)
        out[name] = (threshold, len(emitting) / total, sum(prob < threshold for prob in emitting) / total)
    for group in GROUPS:
        fell_back = sum(1 for top, _, fallback in rows if fallback is True and parents[classes[top]] == group)
        out[f"{group} (fallback to the coarse label)"] = (None, fell_back / total, None)
    return out


def rows_by_label(version) -> dict[str, tuple]:
    return {row["label"]: (row["threshold"], row["predicted_share"], row["review_share"])
            for row in pool_threshold_rows(version, model_labels(version))}


def test_threshold_rows_take_the_same_queries_for_4_labels_as_for_40(project_factory):
    small, *_ = scored_version(project_factory("threshold-few", labels=(), sources=()), 1, 4, seed=1)
    wide, classes, parents, thresholds, rows = scored_version(
        project_factory("threshold-many", labels=(), sources=()), 2, 40, seed=2)
    counts = {}
    for version in (small, wide):
        labels = model_labels(version)
        pool_threshold_rows(version, labels)  # reads the head once per process for the coarse labels' rule
        with CaptureQueriesContext(connection) as queries:
            pool_threshold_rows(version, labels)
        counts[version.number] = len(queries)
    assert counts[1] == counts[2] <= 2, counts
    # and the wide version's figures are still the ones its rows give
    got = rows_by_label(wide)
    want = expected_rows(classes, parents, thresholds, rows)
    assert got.keys() == want.keys()
    for label, (threshold, predicted, review) in want.items():
        assert got[label][0] == threshold, label
        assert got[label][1] == pytest.approx(predicted), label
        assert got[label][2] == (None if review is None else pytest.approx(review)), label
    # a label without a threshold routes nothing to review; labels with one route some here
    assert got["fine0"][2] == 0 and any(got[name][2] > 0 for name in thresholds)
