"""SetFit-style training pairs from labeled texts: half positive (two rows of one label), half
negative (rows of two labels), anchors drawn so that every label is an anchor about equally often
(rare labels are not drowned by frequent ones)."""
from __future__ import annotations

import numpy as np


def make_pairs(labels, n_pairs: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first rows, second rows, targets 1.0 / 0.0) of ``n_pairs`` pairs over ``labels`` (one per
    row). A label with a single row gets no positive pair (it still anchors negatives)."""
    y = np.asarray([str(v) for v in labels])
    names, inverse = np.unique(y, return_inverse=True)
    if len(names) < 2:
        raise ValueError(f"contrastive pairs need at least 2 labels, got {names.tolist()}")
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs}")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(inverse == k) for k in range(len(names))]
    can_pair = np.array([len(m) >= 2 for m in members])
    first, second, target = [], [], []
    for i in range(n_pairs):
        positive = i % 2 == 0 and can_pair.any()
        if positive:
            k = rng.choice(np.flatnonzero(can_pair))
            a, b = rng.choice(members[k], 2, replace=False)
        else:
            k, other = rng.choice(len(names), 2, replace=False)
            a, b = rng.choice(members[k]), rng.choice(members[other])
        first.append(a)
        second.append(b)
        target.append(1.0 if positive else 0.0)
    return np.array(first), np.array(second), np.array(target, dtype=np.float32)
