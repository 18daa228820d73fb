"""Long tail: rare labels share one "Other" class in the first-stage head; a second stage over
the embeddings (nearest centroid, cosine similarity) resolves which rare label it is. A label with
no examples at all takes part through its description's embedding as its centroid.

``OtherBucketHead`` is an estimator like the flat heads; ``decision_function`` returns the log of
the flat probability, ``P(label)`` for frequent labels and ``P(Other) · P(label | Other)`` for
rare ones.

Django-free: numpy only (plus the heads it is given).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from learner.calibration import log_softmax, softmax
from learner.heads.base import ConstantHead
from learner.weighting import class_weights

OTHER = "__other__"


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


class OtherBucketHead:
    """``head_factory()`` makes the first-stage head. Labels with fewer than ``min_examples``
    training rows go to the Other bucket; ``descriptions`` maps label -> embedding of its
    description (used for labels with no examples; ignored for labels that have examples).
    ``scale`` is the inverse temperature of the second stage's softmax over cosine similarities."""

    def __init__(self, head_factory: Callable, min_examples: int = 50,
                 descriptions: dict[str, np.ndarray] | None = None, scale: float = 20.0):
        self.head_factory = head_factory
        self.min_examples = min_examples
        self.descriptions = descriptions or {}
        self.scale = scale

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray([str(v) for v in y])
        if OTHER in set(y):
            raise ValueError(f"{OTHER!r} is reserved for the long-tail bucket and cannot be a label")
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        labels, counts = np.unique(y, return_counts=True)
        rare = [str(c) for c, n in zip(labels, counts, strict=True) if n < self.min_examples]
        described = sorted(set(self.descriptions) - set(labels.tolist()))
        self.rare_labels_ = rare
        self.description_labels_ = described
        if rare:
            first_y = np.where(np.isin(y, rare), OTHER, y)
            self.second_labels_ = rare + described
        else:
            # Description-only labels need Other rows to be reachable; without any, leave them out.
            first_y = y
            self.second_labels_ = []
            self.description_labels_ = []
        first_classes = np.unique(first_y)
        self.first_head_ = self.head_factory() if len(first_classes) > 1 else ConstantHead()
        scheme = getattr(self.first_head_, "weighting", "none")
        if rare and scheme != "none":
            # The head weights Other as one class; give its rows the weight they would carry as their
            # own labels instead, or a heterogeneous Other is under-predicted (40 % recall of rare
            # test rows on banking77_longtail without this).
            beta = getattr(self.first_head_, "beta", 0.999)
            _, own_idx, own_counts = np.unique(y, return_inverse=True, return_counts=True)
            _, first_idx, first_counts = np.unique(first_y, return_inverse=True, return_counts=True)
            w = w * (class_weights(own_counts, scheme, beta)[own_idx]
                     / class_weights(first_counts, scheme, beta)[first_idx])
        self.first_head_.fit(X, first_y, sample_weight=w)
        centroids = []
        for label in self.second_labels_:
            rows = y == label
            if rows.any():
                centroids.append(np.average(X[rows], axis=0, weights=w[rows]))
            else:
                centroids.append(np.asarray(self.descriptions[label], dtype=np.float64))
        self.centroids_ = _unit(np.array(centroids, dtype=np.float64)) if centroids else np.zeros((0, X.shape[1]))
        first = [str(c) for c in self.first_head_.classes_ if c != OTHER]
        self.classes_ = np.array(sorted(first + self.second_labels_))
        self.class_weights_ = dict(self.first_head_.class_weights_)
        return self

    def second_stage_proba(self, X) -> np.ndarray:
        """P(label | Other) over ``second_labels_`` (columns in that order)."""
        sims = _unit(np.asarray(X, dtype=np.float64)) @ self.centroids_.T
        z = self.scale * sims
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def decision_function(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        log_first = log_softmax(self.first_head_.decision_function(X))
        index = {c: i for i, c in enumerate(self.classes_)}
        out = np.full((len(X), len(self.classes_)), -1e4)
        for j, c in enumerate(self.first_head_.classes_):
            if c != OTHER:
                out[:, index[str(c)]] = log_first[:, j]
        if self.second_labels_:
            other_col = list(self.first_head_.classes_).index(OTHER)
            log_second = np.log(np.maximum(self.second_stage_proba(X), 1e-300))
            cols = [index[c] for c in self.second_labels_]
            out[:, cols] = log_first[:, [other_col]] + log_second
        return np.maximum(out, -1e4)

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]
