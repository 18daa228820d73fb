"""Class weights and resampling of the training part (never validation or test).

Django-free: numpy only.
"""
from __future__ import annotations

import numpy as np

WEIGHTINGS = ("none", "inverse", "effective")
RESAMPLINGS = ("none", "over", "under")


def class_weights(counts, scheme: str = "inverse", beta: float = 0.999) -> np.ndarray:
    """Per-class weights from per-class training counts ``n_c`` (all > 0).

    - ``none``: 1 for every class.
    - ``inverse``: ``w_c = N / (K * n_c)`` (scikit-learn's "balanced").
    - ``effective``: Cui et al. (2019), ``w_c ∝ (1 - β) / (1 - β^n_c)``, normalised so that the
      weights sum to K, as in the paper. β → 0 gives uniform weights, β → 1 inverse frequency.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) == 0:
        raise ValueError("counts must be a non-empty 1-d array")
    if (counts <= 0).any():
        raise ValueError(f"every class needs at least one training example, got counts {counts.tolist()}")
    k = len(counts)
    if scheme == "none":
        return np.ones(k)
    if scheme == "inverse":
        return counts.sum() / (k * counts)
    if scheme == "effective":
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        effective_number = (1.0 - np.power(beta, counts)) / (1.0 - beta)
        weights = 1.0 / effective_number
        return weights * k / weights.sum()
    raise ValueError(f"unknown weighting {scheme!r}; expected one of {WEIGHTINGS}")


def resample(y_idx, mode: str = "none", seed: int = 0, under_to: str | int = "median",
             class_weighted: bool = False):
    """Indices (into the training part) and per-row weights after resampling.

    - ``none``: every row once, weight 1.
    - ``over``: each class randomly oversampled with replacement up to the largest class size.
    - ``under``: classes above ``under_to`` (the median class size by default, or an int) are
      randomly subsampled to it. Without class weights after it, their kept rows are upweighted
      by ``n_c / kept_c`` so the class keeps its total weight. With ``class_weighted`` (the head
      applies class weights, which it computes from the row counts it is given) the kept rows stay
      at weight 1: the class weights then give every class its share (under inverse weighting,
      equal totals, as after ``none`` or ``over``), while upweighted rows would hand the
      subsampled classes back ``n_c / kept_c`` times their share (class totals in proportion to
      ``n_c`` again).

    Only ever call this on the training part: validation and test must be scored as they are.
    """
    y_idx = np.asarray(y_idx)
    rng = np.random.default_rng(seed)
    n = len(y_idx)
    if mode == "none":
        return np.arange(n), np.ones(n)
    classes, counts = np.unique(y_idx, return_counts=True)
    if mode == "over":
        target = counts.max()
        parts = []
        for c, n_c in zip(classes, counts, strict=True):
            members = np.flatnonzero(y_idx == c)
            extra = rng.choice(members, size=target - n_c, replace=True) if target > n_c else members[:0]
            parts.append(np.concatenate([members, extra]))
        idx = np.sort(np.concatenate(parts))
        return idx, np.ones(len(idx))
    if mode == "under":
        cap = int(np.median(counts)) if under_to == "median" else int(under_to)
        cap = max(cap, 1)
        parts, weights = [], []
        for c, n_c in zip(classes, counts, strict=True):
            members = np.flatnonzero(y_idx == c)
            if n_c > cap:
                kept = np.sort(rng.choice(members, size=cap, replace=False))
                parts.append(kept)
                weights.append(np.ones(cap) if class_weighted else np.full(cap, n_c / cap))
            else:
                parts.append(members)
                weights.append(np.ones(n_c))
        idx = np.concatenate(parts)
        w = np.concatenate(weights)
        order = np.argsort(idx, kind="stable")
        return idx[order], w[order]
    raise ValueError(f"unknown resampling {mode!r}; expected one of {RESAMPLINGS}")
