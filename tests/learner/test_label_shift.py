"""Thresholds for a stated class mix: the EM class-mix estimate, thresholds that hold at the mix
they were chosen for (where the labeled mix's thresholds do not), and the report naming the mix."""
import numpy as np
import pytest

from learner.label_shift import estimate_class_mix, fit_prior_bias, mix_weights, resolve_mix
from learner.precision_bounds import precision_effective
from learner.training import TrainConfig, train_classifier

MEANS = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 3.0]])  # pos, neg, other: unit-variance Gaussians
NAMES = np.array(["pos", "neg", "other"], dtype=object)


def _draw(rng, counts, dim=8):
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), dim))
    X[:, :2] += MEANS[y]
    return X.astype(np.float32), y


def _posterior(X, prior):
    """Exact p(y | x) of the Gaussian classes at class mix ``prior``: calibrated scores."""
    log = -0.5 * ((X[:, None, :2] - MEANS[None]) ** 2).sum(axis=2) + np.log(prior)
    log -= log.max(axis=1, keepdims=True)
    p = np.exp(log)
    return p / p.sum(axis=1, keepdims=True)


def test_em_recovers_a_shifted_class_mix_from_calibrated_scores():
    rng = np.random.default_rng(0)
    train_prior = np.array([1 / 3, 1 / 3, 1 / 3])
    true = np.array([0.08, 0.82, 0.10])
    X, _ = _draw(rng, (rng.multinomial(6000, true)))
    estimate, info = estimate_class_mix(_posterior(X, train_prior), train_prior)
    assert info["converged"] and info["iterations"] > 1 and info["log_likelihood_gain"] > 0
    assert np.abs(estimate - true).max() < 0.02
    # the prior the scores were calibrated at is not the answer: the average posterior is off
    assert np.abs(_posterior(X, train_prior).mean(axis=0) - true).max() > 0.04


def test_em_keeps_classes_with_no_training_share_or_no_probability_at_zero():
    rng = np.random.default_rng(1)
    X, _ = _draw(rng, (300, 2000, 200))
    p = _posterior(X, np.full(3, 1 / 3))
    proba = np.c_[p, np.zeros(len(p)), np.full(len(p), 0.2)]  # a column nobody scores; one with no prior
    proba[:, :4] *= 0.8
    estimate, info = estimate_class_mix(proba, [1, 1, 1, 1, 0])
    assert info["converged"] and np.all(np.isfinite(estimate))
    assert estimate[3] == 0 and estimate[4] == 0 and abs(estimate.sum() - 1) < 1e-9
    assert abs(estimate[1] - 2000 / 2500) < 0.03
    with pytest.raises(ValueError):
        estimate_class_mix(proba, [1, 1, 1])


def test_prior_offsets_make_class_weighted_scores_calibrated_at_the_tuning_mix():
    """Scores calibrated at a uniform prior (as a class-weighted head gives) on rows with mix
    0.1 / 0.8 / 0.1: after the offsets, the mean posterior matches the rows' mix."""
    rng = np.random.default_rng(2)
    X, y = _draw(rng, (400, 3200, 400))
    p = _posterior(X, np.full(3, 1 / 3))
    b = fit_prior_bias(p, y, l2=0.0)
    adjusted = np.exp(np.log(p) + b)
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    assert np.abs(adjusted.mean(axis=0) - [0.1, 0.8, 0.1]).max() < 0.01
    assert np.abs(p.mean(axis=0) - [0.1, 0.8, 0.1]).max() > 0.05


def test_mix_weights_give_the_rows_the_stated_mix():
    y = np.r_[np.zeros(50, int), np.ones(50, int), np.full(100, 2)]
    w = mix_weights(y, np.ones(len(y)), np.array([0.1, 0.8, 0.1]))
    shares = np.bincount(y, weights=w) / w.sum()
    assert np.allclose(shares, [0.1, 0.8, 0.1])
    q, report = resolve_mix("uniform", ["a", "b", "c", "d"], y, np.ones(len(y)))
    assert np.allclose(q, [1 / 3, 1 / 3, 1 / 3, 0]) and report["used"] == "uniform"  # "d": no tuning row
    with pytest.raises(ValueError, match="names no share"):
        resolve_mix({"a": 1.0}, ["a", "b", "c"], y, np.ones(len(y)))


def _fresh_precision(model, X, y, label="pos"):
    proba = model.predict_proba(X)
    top = np.array(model.classes_, dtype=object)[proba.argmax(axis=1)]
    kept = (top == label) & (proba.max(axis=1) >= model.thresholds[label])
    truth = NAMES[y]
    return (truth[kept] == label).mean() if kept.any() else None, (kept & (truth == label)).sum() / (truth == label).sum()


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_thresholds_chosen_for_the_deployment_mix_hold_there_and_the_labeled_mix_ones_do_not(seed):
    """Labeled rows as active learning leaves them (pos as often as neg); deployment traffic is
    80 % neg. A precision target of 0.9 for pos, chosen at the labeled mix, misses on a fresh
    deployment sample; chosen at the deployment mix (EM-estimated from unlabeled deployment
    rows, or stated), it holds there, and the report says which mix was used and how. (With
    Kish's effective count alone the weighted bound held on 2 of these 5 draws: the heavy rows
    are the wrong ones.)"""
    rng = np.random.default_rng(seed)
    X, y = _draw(rng, (300, 300, 200))
    U, _ = _draw(rng, (400, 3200, 400))      # unlabeled deployment rows (labels never read)
    F, yf = _draw(rng, (4000, 32000, 4000))  # fresh deployment sample, only for judging
    targets = {"pos": {"precision": 0.9}}
    train = {"self_training": False, "seed": 0}
    labeled = train_classifier(X, NAMES[y], config=TrainConfig(**train, threshold_mix="labeled"), targets=targets)
    pool = train_classifier(X, NAMES[y], config=TrainConfig(**train, threshold_mix="pool"), targets=targets,
                            unlabeled=U)
    stated = train_classifier(X, NAMES[y], config=TrainConfig(**train, threshold_mix={"pos": 0.1, "neg": 0.8,
                                                                                      "other": 0.1}),
                              targets=targets)
    precision, _ = _fresh_precision(labeled, F, yf)
    assert precision < 0.9
    for model in (pool, stated):
        precision, recall = _fresh_precision(model, F, yf)
        assert precision >= 0.9 and recall > 0.4
        assert model.thresholds["pos"] > labeled.thresholds["pos"]
    mix = pool.report["threshold_mix"]
    assert mix["setting"] == "pool" and mix["used"] == "pool" and mix["unlabeled_rows"] == len(U)
    assert abs(mix["shares"]["neg"] - 0.8) < 0.03 and mix["em"]["converged"]
    assert "unlabeled rows by EM" in pool.report["choices"]["threshold_mix"]["source"]
    assert stated.report["choices"]["threshold_mix"]["used"] == "stated"
    assert stated.report["threshold_mix"]["shares"] == pytest.approx({"pos": 0.1, "neg": 0.8, "other": 0.1})
    assert labeled.report["choices"]["threshold_mix"]["used"] == "labeled"
    # the pool = labeled + unlabeled rows: with the unlabeled count, the two mixes are combined
    whole = train_classifier(X, NAMES[y], config=TrainConfig(**train, threshold_mix="pool"), targets=targets,
                             unlabeled=U, unlabeled_total=len(U))
    assert abs(whole.report["threshold_mix"]["shares"]["neg"] - (300 + 0.8 * len(U)) / (800 + len(U))) < 0.03
    assert "combined with the labeled rows' mix (800 labeled, 4000 unlabeled)" in whole.report["threshold_mix"]["source"]
    # "met" is judged at the mix too: the labeled-mix report says met, at a mix where it is not
    assert next(r for r in labeled.report["thresholds"] if r["label"] == "pos")["met"] is True


def test_weighted_precision_bound_counts_heavy_wrong_rows_as_the_evidence_they_are():
    """Equal weights: the row count. Wrong rows 8x heavier than right ones: fewer effective rows
    than Kish's count, so the lower bound is lower; light wrong rows: never more than Kish's."""
    n = np.array([100.0])
    assert precision_effective(n, n, n - 3, n - 3)[0] == pytest.approx(100)
    right, wrong = np.full(250, 0.267), np.full(3, 2.13)
    w = np.r_[right, wrong]
    args = (np.array([w.sum()]), np.array([(w**2).sum()]), np.array([right.sum()]), np.array([(right**2).sum()]))
    kish = w.sum() ** 2 / (w**2).sum()
    assert precision_effective(*args)[0] < kish / 3
    light = np.r_[np.ones(100), np.full(1, 0.01)]
    args = (np.array([light.sum()]), np.array([(light**2).sum()]), np.array([100.0]), np.array([100.0]))
    assert precision_effective(*args)[0] == pytest.approx(light.sum() ** 2 / (light**2).sum())


def test_pool_mix_without_unlabeled_rows_falls_back_and_says_why():
    rng = np.random.default_rng(3)
    X, y = _draw(rng, (60, 60, 40))
    model = train_classifier(X, NAMES[y], config=TrainConfig(self_training=False, threshold_mix="pool"),
                             targets={"pos": {"precision": 0.9}})
    mix = model.report["threshold_mix"]
    assert mix["setting"] == "pool" and mix["used"] == "labeled" and mix["shares"] is None
    assert "no unlabeled rows" in mix["reason"]
    assert any("threshold class mix" in n for n in model.report["notes"])
    with pytest.raises(ValueError, match="threshold_mix"):
        TrainConfig.from_dict({"threshold_mix": "deployment"}) and train_classifier(
            X, NAMES[y], config=TrainConfig(threshold_mix="deployment"))
