"""Thresholds no held-out row checked, labels beside a coarse → fine tree, and bounds quoted in reasons.

- A precision target reachable on all tuning rows whose threshold no held-out row checked (every fold's
  tuning rows infeasible, or no held-out prediction reaching its fold's threshold) is unverified: like a
  label not estimable, every prediction of the label goes to review, in the table and in what the
  trained model serves, and the reason says which of the two happened.
- A top-level label with no fine label under it gets no coarse-fallback target (nothing falls back to it).
- A recall bound that fell short of its target never prints as the target."""
import re

import numpy as np

from learner.heads.hierarchy import emit
from learner.precision_bounds import short_bound
from learner.thresholds import UNREACHABLE, cross_fit_thresholds
from learner.training import TrainConfig
from learner.training.evaluate import calibrate_and_evaluate, split_targets


def _logits(top_label: np.ndarray, top_p: np.ndarray, k: int) -> np.ndarray:
    """Logits whose softmax gives ``top_p`` to ``top_label`` and shares the rest evenly."""
    proba = np.tile(((1 - top_p) / (k - 1))[:, None], (1, k))
    proba[np.arange(len(top_label)), top_label] = top_p
    return np.log(proba)


def test_a_target_no_fold_could_reach_sends_the_served_models_predictions_to_review():
    """30 right predictions of "a": enough for precision 0.9 with confidence on all 30, not on any 4 folds' 24."""
    top_p = np.r_[np.linspace(0.99, 0.80, 30), np.full(60, 0.9)]
    top = np.r_[np.zeros(30, int), np.ones(60, int)]
    logits = _logits(top, top_p, 2)
    out = calibrate_and_evaluate(TrainConfig(calibrate="none", threshold_mix="labeled"), logits,
                                 ["a" if v == 0 else "b" for v in top], np.ones(len(top)), ["a", "b"],
                                 {"a": {"precision": 0.9}}, None, [])
    row = out.report["thresholds"][0]
    assert row["feasible"] is True and 0.5 < row["unverified_threshold"] < 1, row
    assert all(t == UNREACHABLE for t in row["fold_thresholds"]), row["fold_thresholds"]
    assert row["met"] is None
    assert "on no fold's tuning rows" in row["met_reason"] and "goes to review" in row["met_reason"], row["met_reason"]
    assert "0.8000" in row["met_reason"], row["met_reason"]  # the threshold nobody checked, as chosen on all rows
    # what the model serves is what the table shows: every prediction of "a" to review
    assert out.thresholds["a"] == row["threshold"] == UNREACHABLE
    served = emit(np.exp(logits), ["a", "b"], None, thresholds=out.thresholds)
    assert served.needs_review[top == 0].all() and not served.needs_review[top == 1].any()
    assert row["precision"] is None and row["recall"] == 0.0 and row["review_share"] == 30 / 90, row


def test_a_fold_threshold_no_held_out_prediction_reaches_is_unverified_too():
    """Fold 0: 40 right predictions of "a" at 0.99-0.90; fold 1: 40 at 0.89-0.80, half of them wrong. On all
    rows 0.90 meets precision 0.9; fold 1's threshold (chosen on fold 0) is 0.90, which none of fold 1's rows
    reach, and fold 0's (chosen on fold 1) is infeasible: no held-out row checked anything."""
    top_p = np.r_[np.linspace(0.99, 0.90, 40), np.linspace(0.89, 0.80, 40), np.full(40, 0.9)]
    y = np.r_[np.zeros(40, int), np.tile([0, 1], 20), np.ones(40, int)]
    top = np.r_[np.zeros(80, int), np.ones(40, int)]
    fold = np.r_[np.zeros(40, int), np.ones(40, int), np.arange(40) % 2]
    proba = np.exp(_logits(top, top_p, 2))
    thresholds, table = cross_fit_thresholds(proba, y, ["a", "b"], {"a": {"precision": 0.9}}, folds=fold)
    row = table[0]
    assert row["feasible"] is True and row["held_out_kept"] == 0, row
    assert row["fold_thresholds"][0] == UNREACHABLE and row["fold_thresholds"][1] < 1, row["fold_thresholds"]
    assert thresholds["a"] == row["threshold"] == UNREACHABLE
    assert row["met"] is None
    assert "no held-out prediction of 'a' reached its fold's threshold" in row["met_reason"], row["met_reason"]
    assert "goes to review" in row["met_reason"]


def test_a_checked_target_keeps_its_threshold():
    """The routing is for unchecked thresholds only: 60 right predictions are checked on every fold."""
    top_p = np.r_[np.linspace(0.99, 0.80, 60), np.full(60, 0.9)]
    top = np.r_[np.zeros(60, int), np.ones(60, int)]
    thresholds, table = cross_fit_thresholds(np.exp(_logits(top, top_p, 2)), top, ["a", "b"],
                                             {"a": {"precision": 0.9}}, folds=np.arange(120) % 3)
    assert table[0]["met"] is True and thresholds["a"] < 1 and "unverified_threshold" not in table[0], table[0]


def test_a_label_beside_the_tree_has_no_coarse_target():
    parents = {"login": "Security", "fraud": "Security", "billing": "billing", "money": "money", "cash": "money"}
    classes = ["login", "fraud", "billing", "money", "cash"]
    targets = {"billing": {"precision": 0.8}, "Security": {"precision": 0.7}, "money": {"precision": 0.9}}
    fine, coarse, branch = split_targets(targets, classes, parents, [])
    assert fine == {"billing": {"precision": 0.8}}
    assert coarse == {"Security": {"precision": 0.7}, "money": {"precision": 0.9}}
    assert branch == {"money": {"precision": 0.9}}


def test_a_leaf_labels_coarse_row_in_the_training_report_carries_no_target():
    rng = np.random.default_rng(0)
    classes = ["login", "fraud", "billing"]
    parents = {"login": "Security", "fraud": "Security", "billing": "billing"}
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), y] += 3
    out = calibrate_and_evaluate(TrainConfig(calibrate="none", threshold_mix="labeled"), logits,
                                 [classes[i] for i in y], np.ones(300), classes, {"billing": {"precision": 0.8}},
                                 parents, [])
    coarse = {row["label"]: row for row in out.report["hierarchy"]["coarse_thresholds"]}
    assert coarse["billing"]["target"] is None and out.coarse_thresholds["billing"] == 0.0, coarse["billing"]
    fine = {row["label"]: row for row in out.report["thresholds"]}
    assert fine["billing"]["target"] == {"precision": 0.8} and fine["billing"]["met"] is True, fine["billing"]


def test_bounds_round_down_exactly():
    assert [short_bound(v) for v in (0.4996, 0.123, 0.5, 0.0999999, 1.0)] == ["0.499", "0.123", "0.500", "0.099",
                                                                             "1.000"]


def test_a_recall_reason_never_prints_its_bound_as_the_target():
    """Recall target out of reach even at threshold 0: the reason quotes the bound at threshold 0 (the row's
    recall_lower). With the target set to that bound rounded up to three places, a bound printed rounded
    would read as the target itself."""
    checked = 0
    for right in range(30, 90):
        top = np.r_[np.zeros(right, int), np.ones(10, int), np.ones(60, int)]  # 10 rows of "a" predicted as "b"
        y = np.r_[np.zeros(right + 10, int), np.ones(60, int)]
        top_p = np.r_[np.linspace(0.99, 0.6, right), np.full(70, 0.9)]
        proba = np.exp(_logits(top, top_p, 2))
        folds = np.arange(len(y)) % 2
        _, table = cross_fit_thresholds(proba, y, ["a", "b"], {"a": {"recall": 1.0}}, folds=folds)
        bound = table[0]["recall_lower"]
        target = round(bound, 3)
        if target <= bound:
            continue
        _, table = cross_fit_thresholds(proba, y, ["a", "b"], {"a": {"recall": target}}, folds=folds)
        reason = table[0]["reason"]
        assert table[0]["feasible"] is False, table[0]
        quoted = re.search(r"lower bound ([0-9.]+),", reason)
        assert quoted and float(quoted.group(1)) < target, (reason, bound, target)
        checked += 1
    assert checked >= 10
