import numpy as np
import pytest
import torch

from learner.heads import LogRegHead, TorchHead, make_head
from learner.heads.torch_head import focal_loss
from tests.learner.helpers import clusters


def test_focal_loss_value_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    target = torch.tensor([0, 2])
    p = torch.softmax(logits, dim=1)
    pt = torch.stack([p[0, 0], p[1, 2]])
    gamma = 2.0
    alpha = torch.tensor([0.25, 1.0, 0.75])
    expected = (-(alpha[[0, 2]]) * (1 - pt) ** gamma * torch.log(pt)).mean()
    got = focal_loss(logits, target, gamma=gamma, alpha=alpha)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    # γ = 0, no α: plain cross-entropy
    ce = torch.nn.functional.cross_entropy(logits, target)
    assert focal_loss(logits, target, gamma=0.0).item() == pytest.approx(ce.item(), rel=1e-6)
    # numeric example: p_t = 0.5, γ = 2 → 0.25 · ln 2
    two = torch.tensor([[0.0, 0.0]])
    assert focal_loss(two, torch.tensor([1]), gamma=2.0).item() == pytest.approx(0.25 * np.log(2), rel=1e-6)


def test_bias_starts_at_log_priors():
    X, y, _ = clusters([60, 30, 10], dim=8)
    head = TorchHead(lr=0.0, epochs=1, device="cpu").fit(X, y)
    assert np.allclose(head.weights_[-1], np.log([0.6, 0.3, 0.1]), atol=1e-6)


def test_logit_adjustment_removes_the_prior_when_features_say_nothing():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype(np.float32) * 1e-3  # uninformative
    y = ["big"] * 400 + ["mid"] * 80 + ["small"] * 20
    plain = TorchHead(loss="ce", weighting="none", epochs=150, device="cpu").fit(X, y)
    adjusted = TorchHead(loss="logit_adjusted", weighting="none", tau=1.0, epochs=150, device="cpu").fit(X, y)
    # plain CE learns the prior; the logit-adjusted head's inference logits are prior-free (uniform)
    assert np.allclose(plain.predict_proba(X).mean(axis=0), [0.8, 0.16, 0.04], atol=0.02)
    assert np.allclose(adjusted.predict_proba(X).mean(axis=0), 1 / 3, atol=0.03)


@pytest.mark.parametrize("options", [{"loss": "ce"}, {"loss": "focal"}, {"loss": "ce", "hidden": 16}])
def test_torch_head_is_deterministic_on_cpu(options):
    X, y, _ = clusters([40, 20, 8], dim=8, spread=1.0)
    a = TorchHead(device="cpu", seed=3, epochs=30, **options).fit(X, y)
    b = TorchHead(device="cpu", seed=3, epochs=30, **options).fit(X, y)
    for wa, wb in zip(a.weights_, b.weights_, strict=True):
        assert np.array_equal(wa, wb)
    c = TorchHead(device="cpu", seed=4, epochs=30, hidden=options.get("hidden", 0)).fit(X, y)
    if options.get("hidden"):
        assert not np.array_equal(a.weights_[0], c.weights_[0])


@pytest.mark.parametrize("head", ["logreg", "torch"])
@pytest.mark.parametrize("weighting", ["none", "inverse", "effective"])
def test_heads_learn_and_weighting_helps_the_rare_class(head, weighting):
    X, y, _ = clusters([300, 12], dim=8, spread=1.6, seed=5)
    model = make_head(head, weighting=weighting, beta=0.99, device="cpu", epochs=200).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(model.classes_) == ["c0", "c1"]
    assert set(model.class_weights_) == {"c0", "c1"}
    if weighting == "inverse":
        assert model.class_weights_["c1"] == pytest.approx(312 / (2 * 12))
    rare = np.array(y) == "c1"
    recall_rare = np.mean(model.predict(X)[rare] == "c1")
    if weighting != "none":
        unweighted = make_head(head, weighting="none", device="cpu", epochs=200).fit(X, y)
        assert recall_rare >= 0.9
        assert recall_rare > np.mean(unweighted.predict(X)[rare] == "c1")


def test_sample_weight_acts_like_duplicated_rows_for_logreg():
    X, y, _ = clusters([20, 20], dim=4, spread=1.5, seed=6)
    w = np.r_[np.full(20, 2.0), np.ones(20)]
    weighted = LogRegHead(weighting="none").fit(X, y, sample_weight=w)
    dup = LogRegHead(weighting="none").fit(np.vstack([X[:20], X]), y[:20] + y)
    assert np.allclose(weighted.predict_proba(X), dup.predict_proba(X), atol=1e-3)


def test_heads_reject_single_class():
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogRegHead().fit(np.zeros((3, 2)), ["a", "a", "a"])
    with pytest.raises(ValueError, match="unknown loss"):
        TorchHead(loss="hinge")


def test_thread_cap_is_lifted_after_fitting():
    from threadpoolctl import threadpool_info

    before_torch = torch.get_num_threads()
    before_blas = [pool["num_threads"] for pool in threadpool_info()]
    X, y, _ = clusters([20, 20], dim=4)
    TorchHead(epochs=2, device="cpu", threads=1).fit(X, y)
    LogRegHead(threads=1).fit(X, y)
    assert torch.get_num_threads() == before_torch
    assert [pool["num_threads"] for pool in threadpool_info()] == before_blas
