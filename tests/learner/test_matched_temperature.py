"""The served model's temperature matched on unlabeled rows to the calibrated fold models
(``TrainConfig.match_temperature``). The out-of-fold temperature calibrates the fold models, each
trained on four fifths of the labels; under a strong penalty relative to the data the served
model, trained on all of them, is sharper, and the same temperature leaves it overconfident."""
import numpy as np
import pytest

from learner.calibration import matched_temperature
from learner.metrics import expected_calibration_error
from learner.training import TrainConfig, train_classifier


def test_matched_temperature_recovers_a_known_sharpening():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 6)) * 2.0
    folds = [z + rng.normal(size=z.shape) * 0.01 for _ in range(5)]
    # the served model's logits are the folds' scaled by 1.6: at 1.6 times the folds' temperature
    # its probabilities are theirs
    assert matched_temperature(1.6 * z, folds, 0.7) == pytest.approx(1.6 * 0.7, rel=0.02)
    assert matched_temperature(0.5 * z, folds, 1.2) == pytest.approx(0.5 * 1.2, rel=0.02)
    assert matched_temperature(z, [], 0.9) == 0.9  # nothing to match on
    # a fold that never saw a label (very low logit there) adds no mass to it
    unseen = [np.column_stack([f[:, :5], np.full(len(f), -1e4)]) for f in folds]
    target = np.column_stack([z[:, :5], np.full(len(z), -1e4)])
    assert matched_temperature(2.0 * target, unseen, 1.0) == pytest.approx(2.0, rel=0.02)


def _overlapping(seed: int):
    """Four overlapping clusters: 150 labeled rows, 3,000 unlabeled, 5,000 fresh test rows."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 16))

    def draw(n):
        y = rng.integers(0, 4, n)
        X = centres[y] + rng.normal(size=(n, 16)) * 2.0
        return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), np.array([f"c{v}" for v in y])

    X, y = draw(150)
    unlabeled, _ = draw(3000)
    X_test, y_test = draw(5000)
    return X, y, unlabeled, X_test, y_test


def _fit(match: bool, X, y, unlabeled):
    # C 0.3: a strong penalty for 150 rows, the regime in which the served model outgrows its folds
    config = TrainConfig(match_temperature=match, C=0.3, self_training=False, label_prior="off")
    return train_classifier(X, y, config=config, unlabeled=unlabeled)


def _test_errors(clf, X_test, y_test):
    index = {c: i for i, c in enumerate(clf.classes_)}
    truth = np.array([index[v] for v in y_test])
    proba = clf.predict_proba(X_test)
    gap = proba.max(axis=1).mean() - (proba.argmax(axis=1) == truth).mean()
    return expected_calibration_error(proba, truth), gap


def test_matching_corrects_an_overconfident_served_model_on_fresh_data():
    ece_oof, ece_matched, gap_oof, gap_matched = [], [], [], []
    for seed in (0, 1, 2):
        X, y, unlabeled, X_test, y_test = _overlapping(seed)
        plain, matched = _fit(False, X, y, unlabeled), _fit(True, X, y, unlabeled)
        assert matched.report["calibration"]["temperature_out_of_fold"] == pytest.approx(plain.temperature)
        assert matched.temperature > plain.temperature  # softened: the served model is the sharper one
        for model, eces, gaps in ((plain, ece_oof, gap_oof), (matched, ece_matched, gap_matched)):
            e, g = _test_errors(model, X_test, y_test)
            eces.append(e)
            gaps.append(g)
    assert np.mean(gap_oof) > 0.02  # the out-of-fold temperature leaves it overconfident
    assert abs(np.mean(gap_matched)) < np.mean(gap_oof) / 2
    assert np.mean(ece_matched) < np.mean(ece_oof) * 0.7


def test_matching_changes_only_the_served_temperature():
    X, y, unlabeled, _, _ = _overlapping(0)
    targets = {"c1": {"precision": 0.8}}
    config = {"C": 0.3, "self_training": False, "label_prior": "off"}
    plain = train_classifier(X, y, config=TrainConfig(**config), unlabeled=unlabeled, targets=targets)
    matched = train_classifier(X, y, config=TrainConfig(match_temperature=True, **config), unlabeled=unlabeled,
                               targets=targets)
    assert matched.report["calibration"]["matched_on_unlabeled"] == len(unlabeled)
    assert matched.temperature != pytest.approx(plain.temperature)
    # thresholds and held-out metrics come from the fold models, the head from the same fit
    assert matched.report["validation"] == plain.report["validation"]
    assert matched.thresholds == plain.thresholds
    np.testing.assert_array_equal(matched.model.decision_function(X), plain.model.decision_function(X))


def test_matching_applies_only_to_temperature_fitted_out_of_fold():
    X, y, unlabeled, _, _ = _overlapping(2)
    split = train_classifier(X, y, unlabeled=unlabeled, config=TrainConfig(
        match_temperature=True, held_out="split", C=0.3, self_training=False, label_prior="off"))
    assert "temperature_out_of_fold" not in split.report["calibration"]
    assert any("served temperature not matched" in note for note in split.report["notes"])


def test_without_an_unlabeled_sample_the_out_of_fold_temperature_stays():
    X, y, unlabeled, _, _ = _overlapping(1)
    plain = _fit(False, X, y, None)
    matched = _fit(True, X, y, unlabeled[:20])  # under 50 rows: nothing to match on
    assert matched.temperature == pytest.approx(plain.temperature)
    assert "temperature_out_of_fold" not in matched.report["calibration"]
    assert any("served temperature = the out-of-fold one" in note for note in matched.report["notes"])


@pytest.mark.parametrize("structure", ["blend", "coarse_then_fine"])
def test_matching_works_through_the_two_level_heads(structure):
    """The blended and coarse → fine heads give log-probabilities as logits; matching re-fits the
    served temperature on them and leaves the fold models' thresholds alone."""
    X, y, unlabeled, X_test, y_test = _overlapping(0)
    parents = {"c0": "A", "c1": "A", "c2": "B", "c3": "B"}
    config = {"C": 0.3, "self_training": False, "label_prior": "off", "hierarchy": structure}
    plain = train_classifier(X, y, config=TrainConfig(**config), unlabeled=unlabeled, parents=parents)
    matched = train_classifier(X, y, config=TrainConfig(match_temperature=True, **config), unlabeled=unlabeled,
                               parents=parents)
    assert matched.report["choices"]["structure"] == structure
    assert matched.report["calibration"]["matched_on_unlabeled"] == len(unlabeled)
    assert matched.temperature != pytest.approx(plain.temperature)
    assert matched.thresholds == plain.thresholds
    assert np.isfinite(matched.predict_proba(X_test)).all()


def test_matching_works_with_the_other_bucket():
    X, y, unlabeled, X_test, _ = _overlapping(1)
    keep = np.flatnonzero(y != "c3")[:120].tolist() + np.flatnonzero(y == "c3")[:8].tolist()  # c3: a small label
    config = {"C": 0.3, "self_training": False, "label_prior": "off", "other_min_examples": 10}
    plain = train_classifier(X[keep], y[keep], config=TrainConfig(**config), unlabeled=unlabeled)
    matched = train_classifier(X[keep], y[keep], config=TrainConfig(match_temperature=True, **config),
                               unlabeled=unlabeled)
    assert matched.report["longtail"]["other_labels"] == ["c3"]
    assert matched.report["calibration"]["matched_on_unlabeled"] == len(unlabeled)
    assert matched.thresholds == plain.thresholds
    assert np.isfinite(matched.predict_proba(X_test)).all()
