"""Under-sampling before a class-weighted head: the weights the head actually trains with give
every class the same total (inverse weights), as they do without resampling or after
over-sampling. The heads are the real ones; a subclass only records what ``fit`` was given."""
import numpy as np
import pytest

from learner import heads
from learner.heads.logreg import LogRegHead
from learner.heads.torch_head import TorchHead
from learner.training import TrainConfig
from learner.training.oof import fit_weighted

COUNTS = {"big": 100, "mid": 30, "small": 5, "tiny": 1}
FITS: list = []  # (head, X, y, sample_weight) of every head fit of the running test


class RecordingLogReg(LogRegHead):
    def fit(self, X, y, sample_weight=None):
        FITS.append((self, np.asarray(X), np.asarray(y).astype(str), np.asarray(sample_weight, dtype=np.float64)))
        return super().fit(X, y, sample_weight)


class RecordingTorch(TorchHead):
    def fit(self, X, y, sample_weight=None):
        FITS.append((self, np.asarray(X), np.asarray(y).astype(str), np.asarray(sample_weight, dtype=np.float64)))
        return super().fit(X, y, sample_weight)


@pytest.fixture
def heads_seen(monkeypatch):
    """The registry's heads record what each fit was given (and then fit as they do)."""
    FITS.clear()
    monkeypatch.setitem(heads.HEADS, "logreg", RecordingLogReg)
    monkeypatch.setitem(heads.HEADS, "torch", RecordingTorch)
    yield FITS
    FITS.clear()


def labeled_rows():
    labels = np.array([label for label, n in COUNTS.items() for _ in range(n)])
    rng = np.random.default_rng(0)
    codes = np.unique(labels, return_inverse=True)[1]
    X = (rng.standard_normal((len(labels), 8)) + np.eye(8)[codes] * 3).astype(np.float32)
    return X, labels


def class_totals(head, y, sample_weight, own_labels=None):
    """Total training weight per label: each row's sample weight times the class weight the head
    applied to its class (``own_labels``: group the rows by these labels instead)."""
    row = sample_weight * np.array([head.class_weights_[c] for c in y])
    groups = y if own_labels is None else own_labels
    return {label: float(row[groups == label].sum()) for label in COUNTS}


@pytest.mark.parametrize("head", ["logreg", "torch"])
@pytest.mark.parametrize("resample", ["none", "over", "under"])
def test_inverse_weights_give_every_class_the_same_total(heads_seen, head, resample):
    X, y = labeled_rows()
    config = TrainConfig(head=head, weighting="inverse", resample=resample, epochs=20)
    fit_weighted(config, None, None, X, y, np.arange(len(y)), np.ones(len(y)))
    (fitted, _, y_fit, w_fit), = heads_seen
    totals = class_totals(fitted, y_fit, w_fit)
    assert max(totals.values()) == pytest.approx(min(totals.values()), rel=1e-9), totals


def test_effective_weights_after_under_sampling_stay_nearly_even(heads_seen):
    X, y = labeled_rows()
    config = TrainConfig(weighting="effective", resample="under")
    fit_weighted(config, None, None, X, y, np.arange(len(y)), np.ones(len(y)))
    (fitted, _, y_fit, w_fit), = heads_seen
    totals = class_totals(fitted, y_fit, w_fit)
    assert max(totals.values()) / min(totals.values()) < 1.05, totals  # was 5.9 before the fix


def test_other_bucket_keeps_own_label_totals_after_under_sampling(heads_seen):
    X, y = labeled_rows()
    config = TrainConfig(weighting="inverse", resample="under", other_min_examples=10)
    model = fit_weighted(config, None, None, X, y, np.arange(len(y)), np.ones(len(y)))
    assert model.rare_labels_ == ["small", "tiny"]
    (fitted, X_fit, first_y, w_fit), = heads_seen
    assert "__other__" in set(first_y)
    label_of = {row.tobytes(): label for row, label in zip(X, y, strict=True)}
    own = np.array([label_of[row.tobytes()] for row in X_fit])  # each row's own label, Other rows too
    totals = class_totals(fitted, first_y, w_fit, own_labels=own)
    assert max(totals.values()) == pytest.approx(min(totals.values()), rel=1e-9), totals


def test_without_class_weights_under_sampling_keeps_each_class_mass(heads_seen):
    X, y = labeled_rows()
    config = TrainConfig(weighting="none", resample="under")
    fit_weighted(config, None, None, X, y, np.arange(len(y)), np.ones(len(y)))
    (fitted, _, y_fit, w_fit), = heads_seen
    assert len(y_fit) < len(y)
    assert class_totals(fitted, y_fit, w_fit) == pytest.approx({k: float(n) for k, n in COUNTS.items()})
