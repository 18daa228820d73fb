"""Input checks of training: every bad input gets a ValueError naming the row and the field."""
from __future__ import annotations

import numpy as np


def first_nonfinite_row(X: np.ndarray) -> int | None:
    """Index of the first row of a 2-d array holding NaN or an infinity, or None."""
    finite = np.isfinite(X).all(axis=1)
    return None if finite.all() else int(np.flatnonzero(~finite)[0])


def check_inputs(X, y, groups, sample_weight):
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array (rows × embedding dimension), got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    bad = first_nonfinite_row(X)
    if bad is not None:
        raise ValueError(f"X row {bad} holds NaN or infinite values")
    labels = []
    for i, v in enumerate(y):
        if v is None or str(v).strip() == "":
            raise ValueError(f"y row {i} has an empty label")
        labels.append(str(v))
    y = np.array(labels, dtype=object).astype(str) if labels else np.zeros(0, dtype=str)
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries but y has {len(y)}")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (len(y),) or (sample_weight < 0).any() or not np.isfinite(sample_weight).all():
            raise ValueError(f"sample_weight must be {len(y)} finite non-negative numbers")
    return X, y, sample_weight


def check_unlabeled(unlabeled, width: int) -> None:
    """The unlabeled rows (self-training, the pool's class mix) are embeddings like X's rows."""
    U = np.asarray(unlabeled)
    if U.ndim != 2 or U.shape[1] != width:
        raise ValueError(f"unlabeled must be a 2-d array of width {width} like X, got shape {U.shape}")
    bad = first_nonfinite_row(U)
    if bad is not None:
        raise ValueError(f"unlabeled row {bad} holds NaN or infinite values")
