"""Logistic regression's C chosen per retrain by out-of-fold evidence (learner.training.penalty_choice)."""
import json
from dataclasses import asdict

import numpy as np
import pytest

from learner.training import TrainConfig, train_classifier
from learner.training.config import check_config
from learner.training.hierarchy_choice import macro_f1
from learner.training.penalty_choice import arm_name
from tests.learner.helpers import clusters


def imbalanced(seed: int, fresh: int = 200):
    """Eight clusters, 300 down to 10 labeled rows each: without class weights a strong penalty
    shrinks the coefficients until the intercepts (the big labels) win, a weaker one does not.
    Returns training rows and fresh rows from the same clusters."""
    counts = [300, 150, 80, 40, 25, 15, 10, 10]
    X, y, _ = clusters([c + fresh for c in counts], dim=24, spread=1.2, seed=seed)
    y = np.array(y)
    train = np.concatenate([np.flatnonzero(y == f"c{k}")[:c] for k, c in enumerate(counts)])
    test = np.setdiff1d(np.arange(len(y)), train)
    return X[train], y[train], X[test], y[test]


def f1_on(model, X, y) -> float:
    return macro_f1(y, np.array(model.predict(X), dtype=object), np.ones(len(y)))


def test_auto_leaves_an_underfitting_penalty_and_the_choice_carries_over_to_fresh_rows():
    X, y, X_test, y_test = imbalanced(seed=1)
    base = dict(self_training=False, C=0.01, weighting="none", penalty_factors=(10.0, 100.0, 1000.0))
    fixed = train_classifier(X, y, config=TrainConfig(**base))
    auto = train_classifier(X, y, config=TrainConfig(**base, penalty="auto"))
    choice = auto.report["penalty_choice"]
    assert choice["configured"] == 0.01 and choice["chosen"] > 0.01, choice
    assert choice["rows_compared"] == len(y)
    assert set(choice["macro_f1"]) == {"C=0.01", "C=0.1", "C=1", "C=10"}
    assert choice["macro_f1"][arm_name(choice["chosen"])] - choice["macro_f1"]["C=0.01"] > choice["margin"] >= 0.005
    # Every fit of the retrain used the chosen C: the served model and the recorded config.
    assert auto.model.model_.C == choice["chosen"] and fixed.model.model_.C == 0.01
    assert auto.report["config"]["C"] == choice["chosen"]
    assert auto.report["choices"]["head"]["C"] == choice["chosen"]
    assert auto.report["choices"]["head"]["C_chosen_by"] == "out-of-fold evidence"
    assert fixed.report["penalty_choice"] is None
    assert fixed.report["choices"]["head"]["C_chosen_by"] == "configuration"
    # Judged on rows that chose nothing.
    assert f1_on(auto, X_test, y_test) > f1_on(fixed, X_test, y_test) + 0.02


def test_auto_keeps_the_configured_penalty_when_no_other_wins_beyond_the_noise():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    y = np.array([f"n{k}" for k in rng.integers(0, 4, size=200)])  # labels unrelated to the rows
    auto = train_classifier(X, y, config=TrainConfig(self_training=False, penalty="auto"))
    choice = auto.report["penalty_choice"]
    assert choice["chosen"] == 10.0 and auto.model.model_.C == 10.0, choice
    assert "kept" in choice["reason"]
    assert len(choice["fold_differences"]) == 5


def test_auto_with_too_little_evidence_or_another_head_keeps_c():
    X, y, _ = clusters([5, 5, 5], dim=8, seed=2)
    small = train_classifier(X, np.array(y), config=TrainConfig(self_training=False, penalty="auto"))
    assert small.report["penalty_choice"]["chosen"] == 10.0
    assert "too little evidence" in small.report["penalty_choice"]["reason"]
    X, y, _ = clusters([30, 30], dim=8, seed=3)
    torch_head = train_classifier(X, np.array(y), config=TrainConfig(self_training=False, penalty="auto",
                                                                     head="torch", epochs=20))
    assert torch_head.report["penalty_choice"] is None
    assert any("logistic-regression head only" in note for note in torch_head.report["notes"])


def test_penalty_settings_are_checked_and_survive_json():
    config = TrainConfig(penalty="auto", penalty_factors=(0.5, 3.0))
    again = TrainConfig.from_dict(json.loads(json.dumps(asdict(config))))
    assert again == config and again.penalty_factors == (0.5, 3.0)
    with pytest.raises(ValueError, match="penalty"):
        check_config(TrainConfig(penalty="sometimes"))
    with pytest.raises(ValueError, match="must be positive"):
        check_config(TrainConfig(penalty_factors=(0.5, 0.0)))
    with pytest.raises(ValueError, match="must be positive"):
        check_config(TrainConfig(C=0.0))
    with pytest.raises(ValueError, match="must be positive"):
        check_config(TrainConfig(C=float("nan")))
    with pytest.raises(ValueError, match="must be positive"):
        check_config(TrainConfig(penalty_factors=("x",)))
    for bad in (True, float("inf"), -1.0):
        with pytest.raises(ValueError, match="must be positive"):
            check_config(TrainConfig(C=bad))
    with pytest.raises(ValueError, match="non-negative"):
        check_config(TrainConfig(penalty_min_gain="a little"))
    check_config(TrainConfig(C=np.float32(5.0), penalty_factors=(np.int64(2), 0.5)))  # numpy numbers are numbers
    with pytest.raises(ValueError, match="must be a list of positive numbers"):
        TrainConfig.from_dict({"penalty_factors": 2})


def test_the_noise_margin_keeps_c_where_the_best_arm_wins_by_chance():
    """Labels unrelated to the rows: every gain is chance. The best of four arms beats the
    configured C in most runs, and the two-standard-error margin (with no minimum gain at all)
    still keeps C in nearly all of them."""
    raw_wins, switched = 0, 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(120, 64)).astype(np.float32)
        y = np.array([f"n{k}" for k in rng.integers(0, 4, size=120)])
        model = train_classifier(X, y, config=TrainConfig(self_training=False, penalty="auto", penalty_min_gain=0.0,
                                                          penalty_factors=(0.01, 0.1, 100.0), seed=seed))
        choice = model.report["penalty_choice"]
        others = [v for k, v in choice["macro_f1"].items() if k != "C=10"]
        raw_wins += max(others) > choice["macro_f1"]["C=10"]
        switched += choice["chosen"] != 10.0
    assert raw_wins >= 3, raw_wins
    assert switched <= 1, switched


def test_auto_that_keeps_c_trains_the_same_model_as_fixed():
    X, y, X_test, _ = imbalanced(seed=4)
    fixed = train_classifier(X, y, config=TrainConfig(self_training=False))
    auto = train_classifier(X, y, config=TrainConfig(self_training=False, penalty="auto", penalty_factors=(1.0, 10.0),
                                                     penalty_min_gain=1.0))  # nothing can win by 1.0
    assert auto.report["penalty_choice"]["chosen"] == 10.0
    assert set(auto.report["penalty_choice"]["macro_f1"]) == {"C=10", "C=100"}  # the factor 1 is the configured C
    np.testing.assert_array_equal(auto.logits(X_test), fixed.logits(X_test))
    assert auto.temperature == fixed.temperature and auto.thresholds == fixed.thresholds


def test_label_vectors_of_the_wrong_width_get_a_clear_message_before_the_folds():
    X, y, _ = clusters([30, 30], dim=8, seed=5)
    with pytest.raises(ValueError, match="label vectors have width 3"):
        train_classifier(X, np.array(y), config=TrainConfig(self_training=False, penalty="auto", label_prior="on"),
                         label_vectors={"c0": np.ones(3), "c1": np.ones(3)})
