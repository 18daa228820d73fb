"""The label-name prior switched on or off by out-of-fold evidence (learner.training.prior_choice)."""
import numpy as np
import pytest

from learner.training import TrainConfig, train_classifier
from learner.training.config import check_config, prior_possible
from learner.training.hierarchy_choice import macro_f1
from learner.training.prior_choice import MIN_GAIN
from tests.learner.helpers import clusters

N_CLASSES = 30


def few_shot(seed: int):
    """30 labels with 1-3 noisy examples each (where a label's name is worth an example), fresh
    test rows from the same clusters, and the true cluster centres as the label vectors."""
    counts = [1, 2, 3] * (N_CLASSES // 3)
    X, y, centres = clusters([c + 40 for c in counts], dim=24, spread=1.6, seed=seed, prefix="k")
    y = np.array(y)
    train = np.concatenate([np.flatnonzero(y == f"k{k}")[:c] for k, c in enumerate(counts)])
    test = np.setdiff1d(np.arange(len(y)), train)
    vectors = {f"k{k}": centres[k] for k in range(N_CLASSES)}
    return X[train], y[train], X[test], y[test], vectors


def test_auto_switches_the_prior_on_when_the_label_names_point_at_the_classes():
    X, y, X_test, y_test, vectors = few_shot(seed=3)
    auto = train_classifier(X, y, config=TrainConfig(self_training=False), label_vectors=vectors)
    off = train_classifier(X, y, config=TrainConfig(self_training=False, label_prior="off"), label_vectors=vectors)
    choice = auto.report["label_prior_choice"]
    assert choice["chosen"] == "on", choice
    assert choice["macro_f1"]["on"] - choice["macro_f1"]["off"] > choice["margin"] >= MIN_GAIN
    assert choice["rows_compared"] == len(y)  # every labeled row held out once; prior rows never
    assert auto.report["label_prior"]["labels"] > 0
    assert auto.report["choices"]["label_prior"] == {"setting": "auto", "used": True,
                                                     "rows": auto.report["label_prior"]["labels"],
                                                     "chosen_by": "out-of-fold evidence"}
    assert off.report["label_prior_choice"] is None and off.report["label_prior"] is None
    assert off.report["choices"]["label_prior"]["chosen_by"] == "configuration"
    # The evidence carries over to rows neither model saw.
    ones = np.ones(len(y_test))
    on_f1 = macro_f1(y_test, np.array(auto.predict(X_test), dtype=object), ones)
    off_f1 = macro_f1(y_test, np.array(off.predict(X_test), dtype=object), ones)
    assert on_f1 > off_f1 + 0.02, (on_f1, off_f1)


def test_the_gain_over_labels_each_fold_had_rows_for_is_the_one_that_carries_over():
    """A label with one row is missing from the training part of the fold that holds it out, where
    only the prior can predict it; the served model has that row. Over six seeds, the gain over the
    labels each fold had rows for is nearer the gain on fresh rows than the gain over every held-out
    row, which counts those labels as unseen."""
    nearer = 0
    for seed in range(6):
        X, y, X_test, y_test, vectors = few_shot(seed=seed)
        choice = train_classifier(X, y, config=TrainConfig(self_training=False),
                                  label_vectors=vectors).report["label_prior_choice"]
        assert choice["rows_unseen_in_fold"] == N_CLASSES // 3  # the labels with one row
        ones = np.ones(len(y_test))
        fresh = {arm: macro_f1(y_test, np.array(train_classifier(
            X, y, config=TrainConfig(self_training=False, label_prior=arm), label_vectors=vectors).predict(X_test),
            dtype=object), ones) for arm in ("off", "on")}
        real = fresh["on"] - fresh["off"]
        every = choice["macro_f1"]["on"] - choice["macro_f1"]["off"]
        seen = choice["macro_f1_seen_in_fold"]["on"] - choice["macro_f1_seen_in_fold"]["off"]
        nearer += abs(seen - real) < abs(every - real)
    assert nearer >= 5, nearer


def test_auto_keeps_the_prior_off_when_the_label_names_point_at_the_wrong_classes():
    X, y, X_test, y_test, vectors = few_shot(seed=4)
    names = list(vectors)
    misleading = {name: vectors[names[(i + 1) % len(names)]] for i, name in enumerate(names)}
    auto = train_classifier(X, y, config=TrainConfig(self_training=False), label_vectors=misleading)
    forced = train_classifier(X, y, config=TrainConfig(self_training=False, label_prior="on"),
                              label_vectors=misleading)
    choice = auto.report["label_prior_choice"]
    assert choice["chosen"] == "off", choice
    assert choice["macro_f1"]["on"] < choice["macro_f1"]["off"]
    assert auto.report["label_prior"] is None
    assert auto.report["choices"]["label_prior"]["used"] is False
    assert forced.report["label_prior"]["labels"] > 0 and forced.report["label_prior_choice"] is None
    ones = np.ones(len(y_test))
    kept = macro_f1(y_test, np.array(auto.predict(X_test), dtype=object), ones)
    hurt = macro_f1(y_test, np.array(forced.predict(X_test), dtype=object), ones)
    assert kept > hurt, (kept, hurt)


def test_auto_without_label_vectors_or_with_every_label_well_covered_adds_nothing():
    X, y, _ = clusters([30, 30, 30], dim=8, seed=5)
    y = np.array(y)
    plain = train_classifier(X, y, config=TrainConfig(self_training=False))
    assert plain.report["label_prior_choice"] is None and plain.report["label_prior"] is None
    vectors = {f"c{k}": X[y == f"c{k}"].mean(axis=0) for k in range(3)}
    covered = train_classifier(X, y, config=TrainConfig(self_training=False), label_vectors=vectors)
    choice = covered.report["label_prior_choice"]
    assert choice["chosen"] == "off" and choice["prior_rows"] == 0 and "nothing to add" in choice["reason"]


def test_label_prior_setting_is_checked():
    with pytest.raises(ValueError, match="label_prior"):
        check_config(TrainConfig(label_prior="sometimes"))
    with pytest.raises(ValueError, match="label_prior_weight > 0"):
        check_config(TrainConfig(label_prior="on", label_prior_weight=0))
    assert prior_possible(TrainConfig())  # the default (auto, weight 0.5) has something to try
    assert not prior_possible(TrainConfig(label_prior="off"))
    assert not prior_possible(TrainConfig(label_prior_weight=0))
