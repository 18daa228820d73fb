"""Per-label probability thresholds chosen on validation to meet a precision or recall target.
A prediction whose top probability is below its label's threshold becomes "needs review".

Django-free: numpy only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNREACHABLE = 1.0 + 1e-9  # a threshold no probability reaches: every prediction goes to review


def _validate_target(label: str, target: dict) -> tuple[str, float]:
    if not isinstance(target, dict) or len(target) != 1 or next(iter(target)) not in ("precision", "recall"):
        raise ValueError(f"target for label {label!r} must be {{'precision': p}} or {{'recall': r}}, got {target!r}")
    kind, value = next(iter(target.items()))
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{kind} target for label {label!r} must be within [0, 1], got {value}")
    return kind, value


def choose_thresholds(
    proba,
    y_idx,
    classes: Sequence[str],
    targets: dict | None = None,
    sample_weight=None,
) -> tuple[dict[str, float], list[dict]]:
    """Thresholds per label and a report table.

    For a label with ``{"precision": p}``: the lowest threshold t such that, among validation
    rows predicted as that label (top-1) with probability ≥ t, the precision is ≥ p. With
    ``{"recall": r}``: the highest t such that recall (over all true rows of the label) is still
    ≥ r. Labels without a target get 0 (never sent to review). When a target cannot be met the
    threshold is set above 1 (everything predicted as that label goes to review) and ``met`` is
    False; when the label has no validation rows it keeps 0 and ``estimable`` is False.

    Each table row: label, kind, target, threshold, precision, recall, review_share (share of all
    validation traffic predicted as the label but below its threshold), met, estimable.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_idx = np.asarray(y_idx, dtype=int)
    targets = targets or {}
    unknown = sorted(set(targets) - set(classes))
    if unknown:
        raise ValueError(f"targets name labels that are not classes: {unknown[:10]}")
    n = len(y_idx)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = w.sum() if n else 0.0
    top = proba.argmax(axis=1) if n else np.zeros(0, dtype=int)
    top_p = proba.max(axis=1) if n else np.zeros(0)

    thresholds: dict[str, float] = {}
    table: list[dict] = []
    for i, label in enumerate(classes):
        kind, value = _validate_target(label, targets[label]) if label in targets else (None, None)
        predicted = top == i
        scores = top_p[predicted]
        hit = (y_idx[predicted] == i).astype(np.float64)
        wp = w[predicted]
        positives = w[y_idx == i].sum()
        estimable = positives > 0
        threshold = 0.0
        met = True
        if kind is not None and estimable:
            order = np.argsort(-scores, kind="stable")
            s, h, ww = scores[order], hit[order], wp[order]
            cum_tp = np.cumsum(ww * h)
            cum_pred = np.cumsum(ww)
            # Candidate cut after position j keeps rows 0..j; only cut between distinct scores.
            last_of_run = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, bool)
            precision_at = np.divide(cum_tp, cum_pred, out=np.zeros_like(cum_tp), where=cum_pred > 0)
            recall_at = cum_tp / positives
            if kind == "precision":
                ok = np.flatnonzero(last_of_run & (precision_at >= value - 1e-12))
                # lowest threshold = keep the most rows = the largest qualifying cut
                threshold, met = (float(s[ok[-1]]), True) if len(ok) else (UNREACHABLE, False)
            else:
                if value <= 0:
                    threshold = UNREACHABLE if len(s) == 0 else float(s[0])
                else:
                    ok = np.flatnonzero(last_of_run & (recall_at >= value - 1e-12))
                    # highest threshold = keep the fewest rows = the smallest qualifying cut
                    threshold, met = (float(s[ok[0]]), True) if len(ok) else (0.0, False)
        kept = scores >= threshold
        tp = float((wp * hit)[kept].sum())
        kept_w = float(wp[kept].sum())
        table.append({
            "label": label,
            "kind": kind,
            "target": value,
            "threshold": float(threshold),
            "precision": tp / kept_w if kept_w > 0 else None,
            "recall": tp / positives if positives > 0 else None,
            "review_share": float(wp[~kept].sum() / total) if total > 0 else 0.0,
            "met": bool(met),
            "estimable": bool(estimable),
        })
        thresholds[label] = float(threshold)
    return thresholds, table


def needs_review(proba, classes: Sequence[str], thresholds: dict[str, float]) -> np.ndarray:
    """Boolean per row: the top probability is below the threshold of the top label."""
    proba = np.asarray(proba)
    cut = np.array([thresholds.get(c, 0.0) for c in classes])
    return proba.max(axis=1) < cut[proba.argmax(axis=1)]
