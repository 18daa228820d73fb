"""Per-item statistics of calibrated class probabilities, and the float16 packing used to store
probability rows compactly (ItemScore.probs). Pure numpy: no Django here."""
from __future__ import annotations

import numpy as np

PROBS_DTYPE = np.dtype("<f2")  # little-endian float16: 2 bytes per label, fixed across machines


def score_stats(proba: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised summary of an (n, K) probability matrix.

    Returns arrays of length n: ``top_label`` (int64 column index), ``top_prob``, ``margin``
    (top minus runner-up; equals top_prob when K == 1) and ``entropy`` (natural log, 0 for a
    one-hot row).
    """
    proba = np.asarray(proba, dtype=np.float32)
    if proba.ndim != 2:
        raise ValueError(f"proba must be a 2-D (items x labels) array, got shape {proba.shape}")
    n, k = proba.shape
    if n == 0 or k == 0:
        empty = np.zeros(n, dtype=np.float64)
        return {"top_label": np.zeros(n, dtype=np.int64), "top_prob": empty, "margin": empty.copy(),
                "entropy": empty.copy()}
    top_label = proba.argmax(axis=1).astype(np.int64)
    if k == 1:
        top_prob = proba[:, 0].copy()
        margin = top_prob.copy()
    else:
        # Two largest per row without a full sort: O(n K).
        part = np.partition(proba, k - 2, axis=1)[:, k - 2:]
        top_prob = part[:, 1]
        margin = part[:, 1] - part[:, 0]
    from scipy.special import entr  # heavy (scipy.special): imported where used, not at start-up

    # entr: -p log p, 0 at p = 0: one pass, no clipped copy
    entropy = np.maximum(entr(proba).sum(axis=1, dtype=np.float64), 0.0)
    return {"top_label": top_label, "top_prob": top_prob.astype(np.float64), "margin": margin.astype(np.float64),
            "entropy": entropy}


def pack_probs(row: np.ndarray) -> bytes:
    """One probability row as float16 bytes (about 3 significant digits; enough for ranking and
    display, not for re-calibration)."""
    return np.asarray(row, dtype=np.float64).astype(PROBS_DTYPE).tobytes()


def unpack_probs(blob: bytes | memoryview, n_labels: int | None = None) -> np.ndarray:
    """Inverse of :func:`pack_probs` (returns float32). ``n_labels`` checks the length."""
    data = np.frombuffer(bytes(blob), dtype=PROBS_DTYPE).astype(np.float32)
    if n_labels is not None and data.shape[0] != n_labels:
        raise ValueError(f"packed probabilities hold {data.shape[0]} labels, expected {n_labels}")
    return data


def pack_probs_matrix(proba: np.ndarray) -> list[bytes]:
    """Every row of an (n, K) matrix packed; one conversion for the whole matrix."""
    half = np.ascontiguousarray(np.asarray(proba, dtype=np.float64).astype(PROBS_DTYPE))
    return [row.tobytes() for row in half]


def as_stored(proba: np.ndarray) -> np.ndarray:
    """Probabilities as the product reads them back after storing them (float16 rows, read as
    float32): what the planner sees. The simulation plans from these too."""
    return np.asarray(proba, dtype=np.float64).astype(PROBS_DTYPE).astype(np.float32)


def stored_rows(probs, top, top_prob) -> np.ndarray:
    """Stored float16 probability rows as the scorer saw them, for decisions on them: float16 rounds
    the top class's probability (ItemScore.top_prob keeps it as scored) and may round another class
    level with it or above, so every other class is capped just below it and the top class gets its
    stored probability back: the stored top class stays the best of its branch, as scored."""
    top_prob = np.asarray(top_prob, dtype=np.float64)
    proba = np.minimum(np.asarray(probs, dtype=np.float64), np.nextafter(top_prob, 0.0)[:, None])
    proba[np.arange(len(proba)), np.asarray(top, dtype=np.int64)] = top_prob
    return proba
