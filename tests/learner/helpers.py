"""Synthetic embedding data for the learner tests: Gaussian clusters on the unit sphere."""
import numpy as np


def clusters(counts, dim=16, spread=0.6, seed=0, prefix="c"):
    """Rows drawn around one random unit centre per class; ``counts`` = rows per class.
    Returns (X float32 unit rows, labels list, centres)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(counts), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X, y = [], []
    for k, n in enumerate(counts):
        pts = centres[k] + spread * rng.normal(size=(n, dim)) / np.sqrt(dim)
        X.append(pts)
        y += [f"{prefix}{k}"] * n
    X = np.vstack(X).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, y, centres
