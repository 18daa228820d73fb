"""How training wires thresholds and calibration: cross-fitted on held-out rows, "met" judged on
folds that did not choose the threshold, precision and recall targets together, and the
self-training sample kept away from duplicates of labeled rows."""
import numpy as np

from learner.training import TrainConfig
from learner.training.evaluate import calibrate_and_evaluate
from learner.training.self_training import rows_outside_labeled_groups


def _logits(top_label: np.ndarray, top_p: np.ndarray, k: int) -> np.ndarray:
    """Logits whose softmax gives ``top_p`` to ``top_label`` and shares the rest evenly."""
    proba = np.tile(((1 - top_p) / (k - 1))[:, None], (1, k))
    proba[np.arange(len(top_label)), top_label] = top_p
    return np.log(proba)


def test_met_is_false_when_rows_that_did_not_choose_the_threshold_miss():
    """Label a: 150 right predictions spread over 0.6-0.99 (60 above 0.9), plus one duplicate group of 12 wrong
    ones at 0.9. On all rows a threshold above 0.9 meets precision 0.9 with room; a fold that
    holds the duplicate group gets a threshold chosen without it and lets all 12 through, so the
    held-out precision misses and met is False, though the threshold's own rows say yes."""
    k = 3
    right = np.r_[np.linspace(0.6, 0.89, 90), np.linspace(0.905, 0.99, 60)]
    top_p = np.r_[right, np.full(12, 0.9), np.full(40, 0.8), np.full(40, 0.8)]
    top = np.r_[np.zeros(162, int), np.ones(40, int), np.full(40, 2)]
    y = np.r_[np.zeros(150, int), np.ones(12, int), np.ones(40, int), np.full(40, 2)]
    groups = np.r_[np.arange(150), np.full(12, 1000), np.arange(2000, 2080)]
    classes = ["a", "b", "c"]
    out = calibrate_and_evaluate(TrainConfig(calibrate="none"), _logits(top, top_p, k), [classes[i] for i in y],
                                 np.ones(len(y)), classes, {"a": {"precision": 0.9}}, None, [], groups=groups)
    row = next(r for r in out.report["thresholds"] if r["label"] == "a")
    assert row["precision"] >= 0.9 and row["feasible"]  # the rows that chose it say yes
    assert row["held_out_precision"] < 0.9
    assert row["met"] is False and "held-out precision" in row["met_reason"]


def test_both_targets_are_honoured_or_reported_infeasible():
    """A recall target beside a precision target is not dropped: here no threshold gives both."""
    k = 2
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.5).astype(int)
    # label 0 predictions: right ones spread low-high, wrong ones mostly high: precision 0.95 costs recall
    top_p = np.where(y == 0, rng.uniform(0.5, 1.0, n), rng.uniform(0.5, 0.8, n))
    top = np.where(rng.random(n) < 0.9, y, 1 - y)
    top[y == 1] = np.where(rng.random((y == 1).sum()) < 0.3, 0, 1)
    targets = {"a": {"precision": 0.95, "recall": 0.95}}
    out = calibrate_and_evaluate(TrainConfig(calibrate="none"), _logits(top, top_p, k),
                                 ["a" if v == 0 else "b" for v in y], np.ones(n), ["a", "b"], targets, None, [])
    row = out.report["thresholds"][0]
    assert row["target"] == {"precision": 0.95, "recall": 0.95}
    assert row["feasible"] is False and "recall target" in row["reason"]
    assert row["met"] is False


def test_not_estimable_labels_never_say_met():
    k = 3
    top = np.r_[np.zeros(30, int), np.ones(30, int)]
    y = top.copy()
    top_p = np.full(60, 0.9)
    classes = ["a", "b", "rare"]
    out = calibrate_and_evaluate(TrainConfig(calibrate="none"), _logits(top, top_p, k), [classes[i] for i in y],
                                 np.ones(60), classes, {"rare": {"precision": 0.9}}, None, [])
    row = next(r for r in out.report["thresholds"] if r["label"] == "rare")
    assert row["met"] is None and "not estimable" in row["met_reason"]


def test_reported_ece_is_out_of_fold():
    """Calibration fitted on every held-out row would look better on those rows than on new ones;
    the report's ECE comes from temperatures fitted on the other folds."""
    rng = np.random.default_rng(3)
    n, k = 300, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) * 2
    logits[np.arange(n), y] += 1.5
    out = calibrate_and_evaluate(TrainConfig(), logits, [str(v) for v in y], np.ones(n), ["0", "1", "2", "3"],
                                 {}, None, [])
    assert out.calibration["ece_after_source"] == "out of fold"
    assert out.report["validation"]["ece"] == out.calibration["ece_after"]


def test_self_training_rows_leave_out_duplicates_of_labeled_rows():
    groups = np.array([0, 0, 1, 2, 2, 3, 4, 4])
    rest = rows_outside_labeled_groups(groups, [0, 6])
    assert rest.tolist() == [2, 3, 4, 5]  # row 1 (twin of 0) and row 7 (twin of 6) are out
