"""Flat vs coarse → fine chosen by out-of-fold evidence (learner.training.hierarchy_choice)."""
import numpy as np

from learner.training import TrainConfig, train_classifier
from learner.training.hierarchy_choice import FLOORS, macro_f1
from tests.learner.helpers import clusters


def circle(n_per_class: int, seed: int):
    """Eight fine labels around a circle in 2-d; the coarse labels alternate (A, B, A, B, ...), so
    no straight line separates A from B: a coarse head is near chance, a flat head is not."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(8):
        angle = 2 * np.pi * k / 8
        centre = np.array([np.cos(angle), np.sin(angle)])
        X.append(centre + 0.12 * rng.normal(size=(n_per_class, 2)))
        y += [f"f{k}"] * n_per_class
    parents = {f"f{k}": "AB"[k % 2] for k in range(8)}
    return np.vstack(X).astype(np.float32), np.array(y), parents


def _test_f1(model, X, y):
    return macro_f1(y, np.array(model.predict(X), dtype=object), np.ones(len(y)))


def _scenarios():
    X, y, parents = circle(30, seed=0)
    X_test, y_test, _ = circle(100, seed=1)
    yield X, y, X_test, y_test, parents
    # Blobs whose coarse groups mix distant clusters; train on a long-tailed part, test on the rest.
    X_all, y_all, _ = clusters([140, 140, 140, 140, 125, 125, 125, 125], dim=6, spread=1.5, seed=7, prefix="k")
    y_all = np.array(y_all)
    rng = np.random.default_rng(0)
    train = np.zeros(len(y_all), bool)
    for i, n in enumerate([40, 40, 40, 40, 25, 25, 25, 25]):
        train[rng.choice(np.flatnonzero(y_all == f"k{i}"), n, replace=False)] = True
    yield X_all[train], y_all[train], X_all[~train], y_all[~train], {f"k{i}": "ABCD"[i % 4] for i in range(8)}


def test_auto_is_no_worse_on_new_data_than_the_better_forced_structure():
    """The circle (coarse labels no straight line separates) only: on the long-tailed blobs, whose
    coarse groups join distant clusters, out of fold cannot tell the blend from flat (flat's lead is
    inside the noise margin) and the blend scores below flat on new data by a little more than this
    test's 0.02. That taxonomy is built to defeat coarse → fine; on trec and airline_tweets the
    blend beat both (docs/simulation.md, round 10), which is why it is the fallback."""
    for X, y, X_test, y_test, parents in list(_scenarios())[:1]:
        scores = {}
        for mode in ("auto", "flat", "coarse_then_fine", "blend"):
            model = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False, hierarchy=mode))
            scores[mode] = _test_f1(model, X_test, y_test)
            if mode == "auto":
                choice = model.report["hierarchy_choice"]
                assert set(choice["macro_f1"]) == {"flat", "coarse_then_fine", "blend"}
                assert choice["rows_compared"] > 0.9 * len(y)
                assert model.report["choices"]["structure"] == choice["chosen"]
                assert model.report["choices"]["structure_chosen_by"] == "out-of-fold evidence"
        assert scores["auto"] >= max(scores["flat"], scores["coarse_then_fine"], scores["blend"]) - 0.02, scores


def test_forced_structure_is_kept_and_reported_as_configured():
    X, y, parents = circle(20, seed=2)
    model = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False,
                                                                       hierarchy="coarse_then_fine"))
    assert model.report["hierarchy_choice"] is None
    assert model.report["choices"]["structure"] == "coarse_then_fine"
    assert model.report["choices"]["structure_chosen_by"] == "configuration"
    assert hasattr(model.model, "coarse_head_")


def test_floor_is_chosen_among_the_candidates_and_used_by_the_model():
    X, y, _ = clusters([40, 40, 40, 40, 30, 30], dim=8, spread=1.6, seed=3, prefix="k")
    parents = {"k0": "A", "k1": "A", "k2": "B", "k3": "B", "k4": "C", "k5": "C"}
    model = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False, fine_floor=0.75))
    choice = model.report["hierarchy_choice"]
    assert set(choice["floors"]) == {f"{f:g}" for f in FLOORS}
    assert choice["fine_floor"] in FLOORS
    assert model.fine_floor == choice["fine_floor"] == model.report["choices"]["fine_floor"]
    # no floor scores better than the chosen one on the evidence it was chosen on
    assert choice["floors"][f"{choice['fine_floor']:g}"] == max(choice["floors"].values())


def test_too_little_evidence_keeps_the_blend_and_says_why():
    X, y, _ = clusters([3, 3, 2, 2], dim=8, seed=4, prefix="k")
    parents = {"k0": "A", "k1": "A", "k2": "B", "k3": "B"}
    model = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False))
    choice = model.report["hierarchy_choice"]
    assert choice["chosen"] == "blend" and "too little" in choice["reason"]
    assert type(model.model).__name__ == "BlendedHead"


def test_without_coarse_labels_auto_trains_flat_with_no_choice():
    X, y, _ = clusters([20, 20, 20], dim=8, seed=5)
    model = train_classifier(X, y, config=TrainConfig(self_training=False))
    assert model.report["hierarchy_choice"] is None
    assert model.report["choices"]["structure"] == "flat"


def test_label_name_prior_makes_an_unlabeled_label_predictable_and_fades_with_examples():
    X_all, y_all, centres = clusters([60, 60, 60, 60], dim=16, spread=0.5, seed=8, prefix="k")
    y_all = np.array(y_all)
    seen = y_all != "k3"  # nobody has labeled k3 yet
    vectors = {f"k{i}": centres[i] for i in range(4)}
    off = train_classifier(X_all[seen], y_all[seen], config=TrainConfig(self_training=False, label_prior="off"),
                           label_vectors=vectors)
    on = train_classifier(X_all[seen], y_all[seen], config=TrainConfig(self_training=False, label_prior="on", label_prior_weight=1.0),
                          label_vectors=vectors)
    assert "k3" not in off.classes_ and "k3" in on.classes_
    recall_k3 = np.mean(np.array(on.predict(X_all[~seen])) == "k3")
    assert recall_k3 > 0.5
    assert on.report["label_prior"]["labels"] == 1  # only k3 has fewer than 5 labeled rows
    assert on.report["n_rows"] == int(seen.sum())  # prior rows are trained on, never counted or validated


def test_the_margin_a_single_structure_must_clear_is_the_configured_one():
    X, y, _, _, parents = next(_scenarios())
    strict = train_classifier(X, y, parents=parents,
                              config=TrainConfig(self_training=False, hierarchy_min_gain=1.0))
    choice = strict.report["hierarchy_choice"]
    assert choice["chosen"] == "blend" and "max of 1 and" in choice["reason"]
    assert min(choice["margin"].values()) >= 1.0
    lenient = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False, hierarchy_min_gain=0))
    assert max(lenient.report["hierarchy_choice"]["margin"].values()) < 1.0


def test_a_single_structure_replaces_the_blend_only_beyond_the_noise():
    """Blobs whose coarse groups join distant clusters. Long-tailed and small, flat beats the blend
    out of fold by less than the noise, so the blend stays; with 100 rows a label, by more than
    it, so flat is served."""
    X, y, _, _, parents = list(_scenarios())[1]
    model = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False))
    choice = model.report["hierarchy_choice"]
    gain = choice["macro_f1"]["flat"] - choice["macro_f1"]["blend"]
    assert 0 < gain <= choice["margin"]["flat"] and choice["chosen"] == "blend", choice
    assert type(model.model).__name__ == "BlendedHead"
    X, y, _ = clusters([100] * 8, dim=6, spread=1.5, seed=7, prefix="k")
    model = train_classifier(X, y, parents=parents, config=TrainConfig(self_training=False))
    choice = model.report["hierarchy_choice"]
    assert choice["macro_f1"]["flat"] - choice["macro_f1"]["blend"] > choice["margin"]["flat"], choice
    assert choice["chosen"] == "flat" and "flat beats the blend" in choice["reason"]
    assert model.report["choices"]["structure"] == "flat" and not hasattr(model.model, "coarse_head_")
