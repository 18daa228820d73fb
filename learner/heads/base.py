"""What every classification head shares: the sklearn-style estimator contract over frozen
sentence embeddings (``fit(X, y, sample_weight=None)``, ``classes_``, ``decision_function(X)``
logits, ``predict_proba``, ``predict``), input checks, a thread cap for fitting, and
``ConstantHead`` (the one-class "model" a composite head uses for a branch with a single label).
"""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from learner.calibration import softmax


def check_fit_input(X, y, sample_weight):
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array of embeddings, got shape {X.shape}")
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if sample_weight is None:
        sample_weight = np.ones(len(y))
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (len(y),):
        raise ValueError(f"sample_weight has shape {sample_weight.shape}, expected ({len(y)},)")
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"a head needs at least 2 classes in its training data, got {classes.tolist()}")
    return X, y_idx, classes, counts, sample_weight


class Head:
    classes_: np.ndarray

    def decision_function(self, X) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]


class ConstantHead(Head):
    """Always the single class it was fitted on (probability 1)."""

    def fit(self, X, y, sample_weight=None):
        classes = np.unique(np.asarray(y))
        if len(classes) != 1:
            raise ValueError(f"ConstantHead takes exactly one class, got {classes.tolist()}")
        self.classes_ = classes
        self.class_weights_ = {str(classes[0]): 1.0}
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.zeros((len(X), 1))


class limited_threads:
    """Cap BLAS / OpenMP and torch intra-op threads while fitting. On a small shared machine,
    BLAS threads busy-waiting against other processes made a 1-second fit take 15 s; one thread
    is the safe default (``threads=None`` leaves the libraries alone)."""

    def __init__(self, threads: int | None):
        self.threads = threads

    def __enter__(self):
        if self.threads:
            import torch  # heavy (about a second and 300 MB): loaded only when a head is fitted

            # Read torch's count first: threadpoolctl also caps the OpenMP pool torch reports.
            self._torch_threads = torch.get_num_threads()
            self._limits = threadpool_limits(limits=self.threads)
            torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        if self.threads:
            import torch  # already loaded by __enter__

            self._limits.restore_original_limits()
            torch.set_num_threads(self._torch_threads)
        return False
