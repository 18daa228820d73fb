"""Multinomial logistic regression (lbfgs) with class weighting none / inverse /
effective-number, applied as per-row weights. The default head."""
from __future__ import annotations

import warnings

import numpy as np

from learner.heads.base import Head, check_fit_input, limited_threads
from learner.weighting import class_weights


class LogRegHead(Head):
    def __init__(self, C: float = 10.0, weighting: str = "inverse", beta: float = 0.999,
                 max_iter: int = 300, tol: float = 1e-4, threads: int | None = 1, seed: int = 0):
        self.C, self.weighting, self.beta = C, weighting, beta
        self.max_iter, self.tol, self.threads, self.seed = max_iter, tol, threads, seed

    def fit(self, X, y, sample_weight=None):
        with limited_threads(self.threads):
            return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight=None):
        X, y_idx, classes, counts, sample_weight = check_fit_input(X, y, sample_weight)
        per_class = class_weights(counts, self.weighting, self.beta)
        self.classes_ = classes
        self.class_weights_ = {str(c): float(w) for c, w in zip(classes, per_class, strict=True)}
        from sklearn.linear_model import LogisticRegression  # heavy (scipy, pandas): only when fitting

        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol,
                                         random_state=self.seed)
        with warnings.catch_warnings():
            # Early waves legitimately have nearly one row per label; sklearn's hint that y may be a
            # regression target is noise there.
            warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
            self.model_.fit(X, y_idx, sample_weight=sample_weight * per_class[y_idx])
        return self

    def decision_function(self, X) -> np.ndarray:
        z = self.model_.decision_function(np.asarray(X, dtype=np.float32))
        if z.ndim == 1:  # binary: sklearn gives the logit of class 1; softmax([0, z]) = sigmoid(z)
            z = np.column_stack([np.zeros_like(z), z])
        return z.astype(np.float64)
