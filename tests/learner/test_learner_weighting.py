import numpy as np
import pytest

from learner.weighting import class_weights, resample


def test_inverse_weights_formula():
    counts = np.array([100, 10, 1])
    w = class_weights(counts, "inverse")
    n, k = counts.sum(), len(counts)
    assert np.allclose(w, [n / (k * 100), n / (k * 10), n / (k * 1)])
    # every class then carries the same total weight N / K
    assert np.allclose(w * counts, n / k)


def test_effective_number_weights():
    counts = np.array([1000, 100, 10])
    beta = 0.99
    w = class_weights(counts, "effective", beta=beta)
    raw = (1 - beta) / (1 - beta ** counts)
    assert np.allclose(w, raw / raw.sum() * 3)
    assert np.isclose(w.sum(), 3)
    assert w[0] < w[1] < w[2]
    # β = 0: every class counts as one sample → uniform; β → 1: inverse frequency
    assert np.allclose(class_weights(counts, "effective", beta=0.0), 1.0)
    near_inverse = class_weights(counts, "effective", beta=1 - 1e-9)
    assert np.allclose(near_inverse / near_inverse[0], [1, 10, 100], rtol=1e-3)


def test_weights_reject_bad_input():
    with pytest.raises(ValueError, match="at least one training example"):
        class_weights([3, 0], "inverse")
    with pytest.raises(ValueError, match="unknown weighting"):
        class_weights([3, 1], "sqrt")
    assert np.allclose(class_weights([3, 1], "none"), 1.0)


def test_oversampling_balances_and_only_uses_given_rows():
    y = np.array([0] * 50 + [1] * 5 + [2] * 2)
    idx, w = resample(y, "over", seed=1)
    assert np.bincount(y[idx]).tolist() == [50, 50, 50]
    assert set(idx) == set(range(len(y)))  # every original row kept at least once
    assert np.all(w == 1)


def test_undersampling_upweights_to_keep_class_mass():
    y = np.array([0] * 50 + [1] * 10 + [2] * 4)
    idx, w = resample(y, "under", seed=1)  # cap = median class size = 10
    assert np.bincount(y[idx]).tolist() == [10, 10, 4]
    assert len(set(idx)) == len(idx)
    for c, n in enumerate([50, 10, 4]):
        assert np.isclose(w[y[idx] == c].sum(), n)
