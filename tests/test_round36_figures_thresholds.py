"""The thresholds table's held-out figures against the per-class table's. Both said "held out" for
the same model and differed by up to 0.4 in precision: the thresholds table's are of the predictions
each threshold keeps, weighted to the pool's label mix estimated by EM (threshold_mix "pool"), the
per-class table's of every prediction at the labeled items' mix. The dashboard payload now says
which mix the thresholds table is at, so the page can title its columns by it (the wording is
checked in tests/browser/test_dashboard_round36_figures.py).

Recall. A mix reweights every row of a label by the same factor (mix / labeled share, times the
row's own weight, 1 for every row the product trains on), so the factor cancels in recall: a label's
held-out recall moves between the tables only by the threshold. Checked here on the library itself
with thresholds held at 0 (no target): pool-mix recall equals labeled-mix recall."""
import numpy as np
import pytest

from labeling.modeling.models import ModelVersion
from labeling.projects import dashboard
from learner.label_shift import mix_weights
from learner.thresholds import cross_fit_thresholds

CLASSES = ["definition", "DESC", "entity"]
ROW = {"label": "definition", "target": {"precision": 0.9}, "threshold": 0.8, "precision_lower": 0.91,
       "feasible": True, "reason": None, "review_share": 0.4, "held_out_precision": 0.179,
       "held_out_precision_ci": [0.1, 0.3], "held_out_recall": 0.2, "held_out_recall_ci": [0.1, 0.35],
       "held_out_kept": 12.6, "met": False, "met_reason": "held-out precision 0.179 < 0.9"}


@pytest.mark.django_db
def test_the_thresholds_payload_says_which_mix_its_held_out_figures_are_at(project_factory):
    project = project_factory("thr36", labels=CLASSES)
    metrics = {"per_class": {"definition": {"precision": 0.55, "recall": 0.6, "f1": 0.57, "support": 40}},
               "thresholds": [ROW],
               "threshold_mix": {"setting": "pool", "used": "pool", "unlabeled_rows": 844, "reason": None,
                                 "shares": {"definition": 0.05, "DESC": 0.5, "entity": 0.45}}}
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=199,
                                label_map=CLASSES, metrics=metrics)
    data = dashboard.dashboard_data(project)
    assert data["thresholds"]["mix"] == {"used": "pool", "unlabeled_rows": 844}
    assert data["per_class"][0]["precision"] == 0.55 and data["thresholds"]["rows"][0]["held_out_precision"] == 0.179


@pytest.mark.django_db
def test_a_version_without_a_mix_report_says_none(project_factory):
    project = project_factory("thr36b", labels=CLASSES)
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=199,
                                label_map=CLASSES, metrics={"thresholds": [ROW]})
    assert dashboard.dashboard_data(project)["thresholds"]["mix"] is None


def test_recall_does_not_move_with_the_mix_when_weights_are_constant_within_a_label():
    rng = np.random.default_rng(3)
    n = 400
    y = rng.choice(3, size=n, p=[0.2, 0.5, 0.3])
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pool_mix = np.array([0.05, 0.5, 0.45])
    _, labeled = cross_fit_thresholds(proba, y, CLASSES, None, folds=5, sample_weight=np.ones(n))
    _, at_pool = cross_fit_thresholds(proba, y, CLASSES, None, folds=5,
                                      sample_weight=mix_weights(y, np.ones(n), pool_mix))
    for a, b in zip(labeled, at_pool, strict=True):
        assert a["held_out_recall"] == pytest.approx(b["held_out_recall"])
    # precision does move: the rare label's confusers count more at the pool's mix
    assert at_pool[0]["held_out_precision"] < labeled[0]["held_out_precision"] - 0.05
    # weights that differ within a label (what per-row weights would bring) would move recall too
    uneven = np.where(rng.random(n) < 0.5, 0.2, 1.8)
    _, skewed = cross_fit_thresholds(proba, y, CLASSES, None, folds=5, sample_weight=uneven)
    assert any(abs(a["held_out_recall"] - b["held_out_recall"]) > 1e-3 for a, b in zip(labeled, skewed, strict=True))
