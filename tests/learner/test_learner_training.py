import json
from collections import Counter

import numpy as np
import pytest

from learner.splits import group_stratified_split
from learner.training import TrainConfig, TrainedClassifier, train_classifier
from tests.learner.helpers import clusters


def test_tiny_data_trains_and_says_what_it_could_not_estimate():
    X, y, _ = clusters([5, 3, 2, 2, 1, 1, 1, 1, 2, 2], dim=8, spread=0.5, seed=1)
    assert len(y) == 20
    model = train_classifier(X, y, config=TrainConfig(held_out="split"))
    assert any("too little validation data" in note for note in model.report["notes"])
    assert set(model.classes_) == set(y)
    proba = model.predict_proba(X)
    assert proba.shape == (20, 10) and np.allclose(proba.sum(axis=1), 1)
    # singletons can never be predicted out of fold: their metrics are not estimable
    assert {"c4", "c5", "c6", "c7"} <= set(model.report["not_estimable"])
    json.dumps(model.report)  # serialisable
    plain = train_classifier(X, y, config=TrainConfig(cv_folds=0))
    assert plain.temperature == 1.0 and set(plain.thresholds.values()) == {0.0}
    assert plain.report["validation_source"] is None
    assert plain.report["not_estimable"] == sorted(set(y))
    assert any("temperature kept at 1" in note for note in plain.report["notes"])


def test_group_keys_stay_whole_in_the_cross_fit_folds():
    """By default calibration and thresholds come from out-of-fold predictions over every row;
    a duplicate group never straddles a fold, so no row is judged by a model that saw its twin."""
    from learner.splits import group_kfold

    X, y, _ = clusters([100, 100], dim=8, spread=1.0, seed=3)
    groups = [f"g{i // 4}" for i in range(len(y))]
    model = train_classifier(X, y, groups=groups, config=TrainConfig(seed=1))
    assert model.report["validation_source"] == "cross-validation" and model.report["n_evaluated"] == 200
    fold = group_kfold(y, groups, 5, seed=1)
    for g in set(groups):
        assert len({fold[i] for i in range(len(y)) if groups[i] == g}) == 1


def test_small_data_calibrates_on_out_of_fold_predictions():
    X, y, _ = clusters([30, 20, 10], dim=16, spread=1.8, seed=8)
    model = train_classifier(X, y, config=TrainConfig(C=1000.0), targets={"c0": {"precision": 0.9}})
    report = model.report
    assert report["n_val"] == 0 and report["validation_source"] == "cross-validation"
    assert report["n_evaluated"] == 60 and report["validation"]["n"] == 60
    assert model.temperature != 1.0
    assert report["calibration"]["ece_after"] <= report["calibration"]["ece_before"]
    assert {row["label"] for row in report["thresholds"]} == {"c0", "c1", "c2"}
    assert report["final_model_rows"] == 60


def test_single_class_and_bad_input_get_clear_errors():
    X = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="at least 2 different labels"):
        train_classifier(X, ["a"] * 4)
    with pytest.raises(ValueError, match="y row 2 has an empty label"):
        train_classifier(X, ["a", "b", "", "a"])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X row 3"):
        train_classifier(bad, ["a", "b", "a", "b"])
    with pytest.raises(ValueError, match="3 labels"):
        train_classifier(X, ["a", "b", "a"])
    with pytest.raises(ValueError, match="head='svm'"):
        train_classifier(X, ["a", "b", "a", "b"], config=TrainConfig(head="svm"))
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"heads": "torch"})


@pytest.mark.parametrize("mode", ["over", "under"])
def test_validation_is_never_resampled(mode):
    X, y, _ = clusters([200, 60, 20], dim=8, spread=1.2, seed=2)
    config = TrainConfig(resample=mode, seed=5, refit=False, held_out="split")
    model = train_classifier(X, y, config=config)
    split = group_stratified_split(y, None, (0.8, 0.2, 0.0), seed=5)
    val_counts = Counter(np.array(y)[split == "val"].tolist())
    report = model.report["validation"]
    assert report["n"] == sum(val_counts.values()) == model.report["n_val"]
    for label, n in val_counts.items():
        assert report["per_class"][label]["count"] == n
    plain = train_classifier(X, y, config=TrainConfig(seed=5, refit=False, held_out="split"))
    assert plain.report["validation"]["n"] == report["n"]


def test_group_keys_keep_duplicates_together_in_validation():
    X, y, _ = clusters([100, 100], dim=8, spread=1.0, seed=3)
    groups = [f"g{i // 4}" for i in range(len(y))]  # runs of 4 rows share a key
    model = train_classifier(X, y, groups=groups, config=TrainConfig(seed=1, held_out="split"))
    split = group_stratified_split(y, groups, (0.8, 0.2, 0.0), seed=1)
    assert model.report["n_val"] == int((split == "val").sum())
    assert model.report["n_val"] % 4 == 0


@pytest.mark.parametrize("config", [
    TrainConfig(),
    TrainConfig(head="torch", loss="focal", weighting="effective", epochs=60),
    TrainConfig(head="torch", loss="logit_adjusted", weighting="none", hidden=16, epochs=60),
    TrainConfig(calibrate="platt"),
])
def test_round_trip_and_decide(config):
    X, y, _ = clusters([150, 40], dim=8, spread=1.3, seed=4)
    model = train_classifier(X, y, config=config, targets={"c1": {"precision": 0.9}})
    clone = TrainedClassifier.from_bytes(model.to_bytes())
    assert np.allclose(clone.predict_proba(X), model.predict_proba(X))
    assert clone.classes_ == model.classes_ == ["c0", "c1"]
    assert set(model.class_weights) == {"c0", "c1"}
    decisions = model.decide(X[:5])
    assert set(decisions[0]) >= {"label", "coarse_label", "prob", "needs_review", "fallback"}
    assert [d["label"] for d in decisions] == model.predict(X[:5])
    cal = model.report["calibration"]
    assert cal["ece_before"] is not None and cal["ece_after"] is not None
    if config.calibrate == "platt":
        assert cal["method"] == "platt" and model.platt is not None
    with pytest.raises(ValueError, match="bad header"):
        TrainedClassifier.from_bytes(b"not an artifact")


def test_calibration_lowers_validation_ece_for_an_overconfident_head():
    X, y, _ = clusters([150, 150, 150], dim=32, spread=2.5, seed=6)
    model = train_classifier(X, y, config=TrainConfig(C=1000.0))
    cal = model.report["calibration"]
    assert cal["temperature"] > 1
    assert cal["ece_after"] < cal["ece_before"]


def test_importance_weights_reach_the_validation_metrics():
    X, y, _ = clusters([200, 200], dim=8, spread=1.5, seed=7)
    w = np.where(np.array(y) == "c0", 3.0, 1.0)
    model = train_classifier(X, y, sample_weight=w, config=TrainConfig(seed=2))
    report = model.report["validation"]
    assert report["weighted_n"] == pytest.approx(3 * report["per_class"]["c0"]["count"]
                                                 + report["per_class"]["c1"]["count"])


def test_temperature_at_its_bound_is_reported():
    # 68 rows in 384 dimensions, well separated: every out-of-fold prediction is right, so the
    # likelihood keeps improving as T shrinks
    X, y, _ = clusters([30, 20, 10, 5, 3], dim=384, spread=1.5, seed=1)
    model = train_classifier(X, y)
    assert model.temperature == pytest.approx(0.1, rel=0.01)
    assert any("search bound" in note for note in model.report["notes"])


def _few_labels_many_unlabeled(seed=3):
    """Six overlapping classes: 4 labeled rows each, 600 unlabeled rows, 600 test rows."""
    X, y, _ = clusters([4 + 100 + 100] * 6, dim=16, spread=1.6, seed=seed)
    y = np.array(y)
    rng = np.random.default_rng(seed)
    labeled, unlabeled, test = [], [], []
    for label in sorted(set(y)):
        rows = rng.permutation(np.flatnonzero(y == label))
        labeled += rows[:4].tolist()
        unlabeled += rows[4:104].tolist()
        test += rows[104:].tolist()
    return X, y, np.array(labeled), np.array(unlabeled), np.array(test)


def test_self_training_adds_confident_pseudo_labels_to_training_only():
    X, y, labeled, unlabeled, test = _few_labels_many_unlabeled()
    config = TrainConfig(pseudo_threshold=0.6, pseudo_max_ratio=5.0)
    plain = train_classifier(X[labeled], y[labeled], config=config)
    model = train_classifier(X[labeled], y[labeled], config=config, unlabeled=X[unlabeled])
    st = model.report["self_training"]
    assert plain.report["self_training"] is None
    assert st["unlabeled"] == 600 and 0 < st["pseudo_rows"] <= 5 * 24
    assert set(st["per_label"]) <= set(y) and sum(st["per_label"].values()) == st["pseudo_rows"]
    # Pseudo-labeled rows never reach validation, out-of-fold predictions or metrics.
    assert model.report["n_rows"] == 24 and model.report["n_evaluated"] == plain.report["n_evaluated"]
    assert model.report["validation"]["n"] == plain.report["validation"]["n"]
    json.dumps(model.report)
    # The unlabeled rows' structure helps where 4 labels per class do not pin the boundaries down.
    accuracy = lambda m: float(np.mean(np.array(m.predict(X[test])) == y[test]))  # noqa: E731
    assert accuracy(model) > accuracy(plain) + 0.02, (accuracy(model), accuracy(plain))
    # Only the surest rows, up to the cap.
    capped = train_classifier(X[labeled], y[labeled], unlabeled=X[unlabeled],
                              config=TrainConfig(pseudo_threshold=0.6, pseudo_max_ratio=0.5))
    assert capped.report["self_training"]["pseudo_rows"] == 12


def test_self_training_can_be_turned_off_and_reports_when_nothing_qualifies():
    X, y, labeled, unlabeled, _ = _few_labels_many_unlabeled()
    off = train_classifier(X[labeled], y[labeled], unlabeled=X[unlabeled], config=TrainConfig(self_training=False))
    assert off.report["self_training"] is None
    strict = train_classifier(X[labeled], y[labeled], unlabeled=X[unlabeled],
                              config=TrainConfig(pseudo_threshold=1.0))
    assert strict.report["self_training"]["pseudo_rows"] == 0
    assert any("no unlabeled row reached" in note for note in strict.report["notes"])
    assert np.allclose(strict.predict_proba(X[:5]), off.predict_proba(X[:5]))


def test_self_training_rejects_bad_unlabeled_rows():
    X, y, labeled, unlabeled, _ = _few_labels_many_unlabeled()
    with pytest.raises(ValueError, match="width 16"):
        train_classifier(X[labeled], y[labeled], unlabeled=X[unlabeled][:, :8])
    bad = X[unlabeled].copy()
    bad[7, 0] = np.inf
    with pytest.raises(ValueError, match="unlabeled row 7"):
        train_classifier(X[labeled], y[labeled], unlabeled=bad)
    with pytest.raises(ValueError, match="pseudo_threshold"):
        train_classifier(X[labeled], y[labeled], unlabeled=X[unlabeled], config=TrainConfig(pseudo_threshold=0))


def test_confidence_weighted_pseudo_labels_weigh_surer_rows_more_and_never_more_than_the_weight():
    from learner.training.self_training import pseudo_labels

    X, y, labeled, unlabeled, _ = _few_labels_many_unlabeled()
    first = train_classifier(X[labeled], y[labeled], config=TrainConfig(self_training=False))
    flat_cfg = TrainConfig(pseudo_threshold=0.5, pseudo_weight=0.5, pseudo_max_ratio=100, pseudo_weighting="flat")
    soft_cfg = TrainConfig(pseudo_threshold=0.5, pseudo_weight=0.5, pseudo_max_ratio=100,
                           pseudo_weighting="confidence")
    (Xf, yf, wf), _ = pseudo_labels(first, X[unlabeled], flat_cfg, len(labeled), X.shape[1])
    (Xs, ys, ws), report = pseudo_labels(first, X[unlabeled], soft_cfg, len(labeled), X.shape[1])
    assert np.array_equal(Xf, Xs) and list(yf) == list(ys)  # the same rows and labels: only weights move
    assert np.all(wf == 0.5)
    assert np.all((ws >= 0.5 * 0.5 - 1e-12) & (ws <= 0.5 + 1e-12)) and ws.std() > 0.01
    surest = first.predict_proba(Xs).max(axis=1)
    assert np.all(np.diff(ws[np.argsort(surest)]) >= -1e-12)  # surer rows never weigh less
    assert report["pseudo_rows"] == len(ys)
    with pytest.raises(ValueError, match="pseudo_weighting"):
        train_classifier(X[labeled], y[labeled], config=TrainConfig(pseudo_weighting="soft"))
