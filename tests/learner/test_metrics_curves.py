"""Reliability bins and PR curves in the classification report (what the dashboard draws)."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from learner.metrics import classification_report, expected_calibration_error, reliability_bins


def test_reliability_bins_add_up_to_the_ece():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=400)
    y = rng.integers(0, 3, size=400)
    bins = reliability_bins(proba, y, n_bins=15)
    assert len(bins) == 15 and sum(b["count"] for b in bins) == 400
    manual = sum(b["count"] / 400 * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    assert expected_calibration_error(proba, y, 15) == pytest.approx(manual)
    for b in bins:
        if b["count"]:
            assert b["low"] < b["confidence"] <= b["high"]


def test_report_carries_thinned_pr_curves_per_estimable_class():
    rng = np.random.default_rng(1)
    y = np.array(["a"] * 300 + ["b"] * 150 + ["c"] * 50)
    proba = rng.dirichlet(np.ones(3), size=500)
    # Class c is separable: its rows put at least 0.6 on c, every other row at most 0.3.
    proba[:, 2] = np.where(y == "c", rng.uniform(0.6, 1.0, 500), rng.uniform(0.0, 0.3, 500))
    rest = proba[:, :2] / proba[:, :2].sum(axis=1, keepdims=True)
    proba[:, :2] = rest * (1 - proba[:, 2:3])
    report = classification_report(y, np.array(["a", "b", "c"])[proba.argmax(1)], proba, ["a", "b", "c"])
    curve = report["pr_curves"]["c"]
    assert len(curve["precision"]) == len(curve["recall"]) <= 40
    assert curve["positives"] == 50
    assert curve["average_precision"] == pytest.approx(average_precision_score(y == "c", proba[:, 2]))
    assert curve["average_precision"] > 0.9
    assert report["pr_curves"]["a"]["average_precision"] < 0.75
    assert len(report["reliability"]) == 15
