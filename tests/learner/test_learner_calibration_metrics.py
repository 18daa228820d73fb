import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

from learner.calibration import apply_platt, fit_platt, fit_temperature, softmax
from learner.metrics import classification_report, expected_calibration_error, rare_class_recall


def _sample(logits, temperature, seed=0):
    rng = np.random.default_rng(seed)
    p = softmax(logits, temperature)
    return np.array([rng.choice(p.shape[1], p=row) for row in p])


def test_temperature_recovers_true_temperature_and_lowers_ece():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=4.0, size=(4000, 5))
    y = _sample(logits, 2.5)
    t = fit_temperature(logits, y)
    assert t == pytest.approx(2.5, rel=0.1)
    before = expected_calibration_error(softmax(logits), y)
    after = expected_calibration_error(softmax(logits, t), y)
    assert after < before / 3


def test_platt_scaling_binary():
    rng = np.random.default_rng(2)
    s = rng.normal(scale=3, size=3000)
    true_p = 1 / (1 + np.exp(-(0.5 * s - 1.0)))
    y = (rng.random(3000) < true_p).astype(int)
    logits = np.column_stack([np.zeros_like(s), s])
    a, b = fit_platt(logits, y)
    assert a == pytest.approx(0.5, abs=0.1) and b == pytest.approx(-1.0, abs=0.2)
    p = apply_platt(logits, a, b)
    assert np.allclose(p.sum(axis=1), 1)
    assert expected_calibration_error(p, y) < expected_calibration_error(softmax(logits), y)


def test_ece_by_hand():
    # two rows in bin (0.6, 0.667]: confidence 0.65 avg, one right → |0.5 - 0.65| = 0.15, weight 2/3
    # one row in the top bin: confidence 0.95, right → 0.05, weight 1/3
    proba = np.array([[0.65, 0.35], [0.35, 0.65], [0.95, 0.05]])
    y = np.array([0, 0, 0])
    assert expected_calibration_error(proba, y, n_bins=15) == pytest.approx(2 / 3 * 0.15 + 1 / 3 * 0.05)
    # weights: the first row counts thrice
    w = np.array([3.0, 1.0, 1.0])
    expected = 4 / 5 * abs(0.75 - 0.65) + 1 / 5 * 0.05
    assert expected_calibration_error(proba, y, n_bins=15, sample_weight=w) == pytest.approx(expected)


def test_report_matches_sklearn_unweighted_and_weighted():
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    y_true = rng.choice(classes, 300, p=[0.6, 0.3, 0.1])
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.choice(classes, 300))
    proba = rng.dirichlet([1, 1, 1], 300)
    w = rng.uniform(0.2, 5.0, 300)
    rep = classification_report(y_true, y_pred, proba, classes, sample_weight=w)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, sample_weight=w, zero_division=0)
    for i, c in enumerate(classes):
        assert rep["per_class"][c]["precision"] == pytest.approx(p[i])
        assert rep["per_class"][c]["recall"] == pytest.approx(r[i])
        assert rep["per_class"][c]["f1"] == pytest.approx(f[i])
        assert rep["per_class"][c]["support"] == pytest.approx(s[i])
        assert rep["per_class"][c]["average_precision"] == pytest.approx(
            average_precision_score(y_true == c, proba[:, i], sample_weight=w))
    assert rep["macro_f1"] == pytest.approx(f.mean())
    assert rep["weighted_f1"] == pytest.approx(np.average(f, weights=s))
    assert rep["micro_f1"] == pytest.approx(np.average(y_true == y_pred, weights=w))
    assert np.isclose(np.sum(rep["confusion_matrix"]), w.sum())


def test_importance_weights_equal_duplicated_rows():
    y_true = ["a", "a", "b", "b", "c"]
    y_pred = ["a", "b", "b", "c", "c"]
    w = [2, 1, 3, 1, 1]
    weighted = classification_report(y_true, y_pred, classes=["a", "b", "c"], sample_weight=w)
    dup_true = [t for t, k in zip(y_true, w, strict=True) for _ in range(k)]
    dup_pred = [p for p, k in zip(y_pred, w, strict=True) for _ in range(k)]
    plain = classification_report(dup_true, dup_pred, classes=["a", "b", "c"])
    for key in ("macro_f1", "micro_f1", "weighted_f1", "accuracy"):
        assert weighted[key] == pytest.approx(plain[key])
    assert weighted["per_class"]["a"]["recall"] == pytest.approx(2 / 3)
    assert weighted["per_class"]["a"]["count"] == 2 and weighted["per_class"]["a"]["support"] == 3


def test_not_estimable_and_rare_recall():
    rep = classification_report(["a", "a", "b"], ["a", "b", "b"], classes=["a", "b", "z"])
    assert rep["not_estimable"] == ["z"]
    assert rep["macro_f1"] == pytest.approx(np.mean([2 / 3, 2 / 3]))
    assert rare_class_recall(rep, {"a": 100, "b": 3, "z": 1}, fraction=0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not in classes"):
        classification_report(["q"], ["a"], classes=["a"])
