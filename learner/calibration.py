"""Post-hoc calibration fitted on validation logits: temperature scaling (any number of classes)
and Platt scaling (binary).

Django-free: numpy and scipy only (scipy imported by the functions that fit: it is heavy, and
every process imports this module through the project model's settings).
"""
from __future__ import annotations

import numpy as np

from learner.metrics import expected_calibration_error  # noqa: F401  (re-exported for callers)


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def fit_temperature(logits, y_idx, sample_weight=None, bounds=(0.05, 20.0)) -> float:
    """The temperature T > 0 minimising the (weighted) negative log-likelihood of
    softmax(logits / T) on the given (validation) rows."""
    logits = np.asarray(logits, dtype=np.float64)
    y_idx = np.asarray(y_idx, dtype=int)
    if len(y_idx) == 0:
        return 1.0
    w = np.ones(len(y_idx)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rows = np.arange(len(y_idx))

    def nll(log_t: float) -> float:
        return float(-(w * log_softmax(logits / np.exp(log_t))[rows, y_idx]).sum() / w.sum())

    from scipy.optimize import minimize_scalar  # heavy: only when fitting

    result = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def fit_soft_temperature(logits, targets, bounds=(0.05, 20.0)) -> float:
    """The temperature T > 0 minimising the cross-entropy of softmax(logits / T) against soft
    ``targets`` (rows of probabilities over the same columns)."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if len(logits) == 0:
        return 1.0

    def cross_entropy(log_t: float) -> float:
        return float(-(targets * log_softmax(logits / np.exp(log_t))).sum(axis=1).mean())

    from scipy.optimize import minimize_scalar  # heavy: only when fitting

    result = minimize_scalar(cross_entropy, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def matched_temperature(served_logits, fold_logits, fold_temperature: float, bounds=(0.05, 20.0)) -> float:
    """The served model's temperature at which its probabilities on unlabeled rows match, in
    cross-entropy, the average of the fold models' probabilities there, each at the temperature
    fitted on their out-of-fold logits (``fold_logits``: one array per fold, columns aligned with
    ``served_logits``, a label a fold never saw at a very low logit).

    The out-of-fold temperature calibrates the fold models; the served model is trained on every
    labeled row, and under a strong penalty relative to the data it comes out sharper than they
    are, so the same temperature leaves it overconfident (docs/estimates.md, "Calibration")."""
    if not fold_logits:
        return fold_temperature
    targets = np.mean([softmax(z, fold_temperature) for z in fold_logits], axis=0)
    return fit_soft_temperature(served_logits, targets, bounds)


def binary_score(logits) -> np.ndarray:
    """The binary decision score (logit of class 1 minus logit of class 0)."""
    logits = np.asarray(logits, dtype=np.float64)
    return logits[:, 1] - logits[:, 0]


def fit_platt(logits, y_idx, sample_weight=None) -> tuple[float, float]:
    """Platt scaling for two classes: p(class 1) = sigmoid(a * s + b) with s = binary_score(logits);
    (a, b) minimise the weighted log-loss with Platt's smoothed targets."""
    s = binary_score(logits)
    y = np.asarray(y_idx, dtype=np.float64)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    n_pos, n_neg = w[y == 1].sum(), w[y == 0].sum()
    # Platt (1999): targets pulled off 0/1 so a separable validation set cannot drive a → ∞.
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(params):
        a, b = params
        z = a * s + b
        # log(1 + e^z) stably; loss = -[t log σ(z) + (1-t) log(1-σ(z))]
        softplus = np.logaddexp(0, z)
        value = (w * (softplus - t * z)).sum() / w.sum()
        p = 1 / (1 + np.exp(-z))
        grad = np.array([(w * (p - t) * s).sum(), (w * (p - t)).sum()]) / w.sum()
        return value, grad

    from scipy.optimize import minimize  # heavy: only when fitting

    result = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    a, b = result.x
    return float(a), float(b)


def apply_platt(logits, a: float, b: float) -> np.ndarray:
    p1 = 1 / (1 + np.exp(-(a * binary_score(logits) + b)))
    return np.column_stack([1 - p1, p1])
