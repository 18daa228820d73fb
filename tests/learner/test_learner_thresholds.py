import numpy as np
import pytest

from learner.heads.hierarchy import emit
from learner.thresholds import UNREACHABLE, choose_thresholds
from learner.training import TrainConfig, train_classifier
from tests.learner.helpers import clusters


def test_lowest_threshold_meeting_precision():
    # predicted "a" with these scores; truth: hits at .9,.8,.6 ; miss at .7,.5
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.5, 0.5], [0.1, 0.9]])
    y = np.array([0, 0, 1, 0, 1, 1])
    th, table = choose_thresholds(proba, y, ["a", "b"], {"a": {"precision": 0.75}})
    # cut at .6 keeps 4 rows with 3 hits = 0.75; cut at .5 keeps 5 with 3 = 0.6
    assert th["a"] == pytest.approx(0.6)
    row = table[0]
    assert row["precision"] == pytest.approx(0.75) and row["recall"] == pytest.approx(1.0)
    assert row["review_share"] == pytest.approx(1 / 6) and row["met"]
    assert th["b"] == 0.0 and table[1]["target"] is None


def test_highest_threshold_meeting_recall_and_unreachable():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    th, table = choose_thresholds(proba, y, ["a", "b"], {"a": {"recall": 0.6}, "b": {"precision": 0.9}})
    assert th["a"] == pytest.approx(0.7)  # keeps .9 and .7 hits: 2/3 ≥ 0.6
    assert table[0]["recall"] == pytest.approx(2 / 3)
    assert th["b"] == UNREACHABLE  # b is never predicted correctly
    assert not table[1]["met"] or not table[1]["estimable"]
    review = emit(proba, ["a", "b"], thresholds=th).needs_review  # the one review rule (flat: the argmax)
    assert review.tolist() == [False, False, False, True]


def test_bad_target_is_named():
    with pytest.raises(ValueError, match="label 'a'"):
        choose_thresholds(np.eye(2), np.array([0, 1]), ["a", "b"], {"a": {"precison": 0.9}})
    with pytest.raises(ValueError, match="not classes"):
        choose_thresholds(np.eye(2), np.array([0, 1]), ["a", "b"], {"zz": {"precision": 0.9}})


def test_trained_thresholds_hold_on_rows_nobody_tuned_on():
    """train_classifier picks each threshold with a 95 % lower bound on out-of-fold calibrated
    validation rows and judges "met" on folds that did not choose it; on fresh rows from the same
    clusters the kept predictions then reach the precision target."""
    X_all, y_all, _ = clusters([1200, 800, 600, 400], dim=8, spread=1.3, seed=4)
    y_all = np.array(y_all)
    train, fresh = np.arange(len(y_all)) % 2 == 0, np.arange(len(y_all)) % 2 == 1
    targets = {"c0": {"precision": 0.9}, "c1": {"precision": 0.9}, "c3": {"recall": 0.8}}
    model = train_classifier(X_all[train], list(y_all[train]), config=TrainConfig(seed=2), targets=targets)
    table = {row["label"]: row for row in model.report["thresholds"]}
    assert table["c2"]["target"] is None and table["c2"]["met"] is None
    proba = model.predict_proba(X_all[fresh])
    top = np.array(model.classes_)[proba.argmax(axis=1)]
    for label, target in targets.items():
        row = table[label]
        assert model.thresholds[label] == row["threshold"]
        assert row["held_out_precision"] is not None and len(row["fold_thresholds"]) >= 2
        kept = (top == label) & (proba.max(axis=1) >= row["threshold"])
        positives = y_all[fresh] == label
        if "precision" in target:
            assert row["feasible"] and row["precision_lower"] >= 0.9
            # the fresh rows are a sample too: allow two of their standard errors
            assert (y_all[fresh][kept] == label).mean() >= 0.9 - 2 * np.sqrt(0.09 / kept.sum()), label
        else:  # the recall target is judged on held-out folds, never on the rows that chose it
            assert row["held_out_recall"] is not None and positives.any()
    assert 0 < model.report["review_share"] < 1
    decisions = model.decide(X_all[fresh])
    for d, p in zip(decisions, proba.max(axis=1), strict=True):
        assert d["needs_review"] == (p < model.thresholds[d["label"]])


def test_a_stricter_confidence_keeps_fewer_predictions_that_hold_more_often():
    """threshold_confidence reaches the thresholds train_classifier chooses: at 0.99 no label's
    threshold is below its 0.95 one, some are above, each label reports the confidence its cuts
    were bounded at (stricter than the stated one), and fresh rows kept at the stricter thresholds
    are right at least as often."""
    X_all, y_all, _ = clusters([1200, 800, 600, 400], dim=8, spread=1.5, seed=5)
    y_all = np.array(y_all)
    train, fresh = np.arange(len(y_all)) % 2 == 0, np.arange(len(y_all)) % 2 == 1
    targets = {c: {"precision": 0.9} for c in ("c0", "c1", "c2", "c3")}
    models = {c: train_classifier(X_all[train], list(y_all[train]), targets=targets,
                                  config=TrainConfig(seed=2, self_training=False, threshold_confidence=c))
              for c in (0.95, 0.99)}
    loose, strict = models[0.95], models[0.99]
    assert all(strict.thresholds[c] >= loose.thresholds[c] for c in targets)
    assert any(strict.thresholds[c] > loose.thresholds[c] for c in targets)
    for model, confidence in ((loose, 0.95), (strict, 0.99)):
        for row in model.report["thresholds"]:
            assert row["cut_confidence"] >= confidence
    right = {}
    for c, model in models.items():
        proba = model.predict_proba(X_all[fresh])
        top = np.array(model.classes_)[proba.argmax(axis=1)]
        kept = proba.max(axis=1) >= np.array([model.thresholds[t] for t in top])
        right[c] = (top[kept] == y_all[fresh][kept]).mean()
        assert kept.any()
    assert right[0.99] >= right[0.95]
    with pytest.raises(ValueError, match="threshold_confidence"):
        train_classifier(X_all[train], list(y_all[train]), config=TrainConfig(threshold_confidence=1.0))
