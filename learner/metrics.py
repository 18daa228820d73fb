"""Evaluation metrics, all optionally importance-weighted (``sample_weight``), so a model can be
judged on actively sampled labels by weighting each label with 1 / (its sampling probability).

Django-free: numpy and scikit-learn only (scikit-learn imported by the functions that use it: it is
heavy, and every process imports this module through the project model's settings).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def reliability_bins(proba, y_true, n_bins: int = 15, sample_weight=None) -> list[dict]:
    """The reliability diagram: rows binned by their top probability into ``n_bins`` equal-width
    bins (bin i holds (i/n, (i+1)/n]; exactly 0 goes to bin 0), with each bin's weighted row
    count, accuracy and mean confidence (None for an empty bin). ``y_true`` holds column indices."""
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true)
    weight = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    confidence = proba.max(axis=1) if len(y_true) else np.zeros(0)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64) if len(y_true) else np.zeros(0)
    which = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        inside = which == b
        w = float(weight[inside].sum())
        bins.append({
            "low": b / n_bins, "high": (b + 1) / n_bins, "count": int(inside.sum()), "weight": w,
            "accuracy": float(np.average(correct[inside], weights=weight[inside])) if w > 0 else None,
            "confidence": float(np.average(confidence[inside], weights=weight[inside])) if w > 0 else None,
        })
    return bins


def expected_calibration_error(proba, y_true, n_bins: int = 15, sample_weight=None) -> float:
    """Top-label ECE: the weight-averaged |accuracy - confidence| over the reliability bins."""
    bins = reliability_bins(proba, y_true, n_bins, sample_weight)
    total = sum(b["weight"] for b in bins)
    if total <= 0:
        return 0.0
    return float(sum(b["weight"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins if b["weight"] > 0))


def pr_curve_points(positives, scores, sample_weight=None, max_points: int = 40) -> dict:
    """A precision-recall curve thinned to at most ``max_points`` points (enough to draw; keeps a
    77-class report small), with the average precision over the full curve."""
    from sklearn.metrics import average_precision_score, precision_recall_curve  # heavy (scipy, pandas)

    precision, recall, _ = precision_recall_curve(positives, scores, sample_weight=sample_weight)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(max_points, len(recall))).astype(int))
    return {
        "precision": np.round(precision[keep], 4).tolist(),
        "recall": np.round(recall[keep], 4).tolist(),
        "average_precision": float(average_precision_score(positives, scores, sample_weight=sample_weight)),
        "positives": int(np.sum(positives)),
    }


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def classification_report(
    y_true: Sequence,
    y_pred: Sequence,
    proba=None,
    classes: Sequence[str] | None = None,
    sample_weight=None,
    n_bins: int = 15,
) -> dict:
    """Per-class precision / recall / F1 / support (and average precision when ``proba`` is
    given, its columns in ``classes`` order), macro / micro / weighted F1, accuracy, the
    confusion matrix (rows = true, columns = predicted, in ``classes`` order), and with ``proba``
    the ECE, the reliability bins and per-class precision-recall curves.

    ``y_true`` / ``y_pred`` are label names. A prediction outside ``classes`` (e.g. a coarse
    fallback) counts as wrong for its row; it is in no cell of the matrix but in its row's
    ``predicted_outside`` (per true class, in ``classes`` order), so every row is accounted for.
    With ``sample_weight`` every count is a sum of weights; ``support`` stays the weighted sum and
    ``count`` the raw number of rows.
    Classes with no true rows are listed in ``not_estimable`` and left out of the macro mean.
    JSON-serialisable."""
    y_true = [str(v) for v in y_true]
    y_pred = [str(v) for v in y_pred]
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if classes is None:
        classes = sorted(set(y_true) | set(y_pred))
    classes = [str(c) for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    n = len(y_true)
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"sample_weight has shape {weight.shape}, expected ({n},)")
    true_idx = np.array([index.get(v, -1) for v in y_true], dtype=int)
    pred_idx = np.array([index.get(v, -1) for v in y_pred], dtype=int)
    if (true_idx < 0).any():
        unknown = sorted({v for v in y_true if v not in index})
        raise ValueError(f"y_true holds labels that are not in classes: {unknown[:10]}")

    confusion = np.zeros((k, k), dtype=np.float64)
    known_pred = pred_idx >= 0
    np.add.at(confusion, (true_idx[known_pred], pred_idx[known_pred]), weight[known_pred])
    outside = np.zeros(k)  # per true class: the rows predicted as no class (in no cell of the matrix)
    np.add.at(outside, true_idx[~known_pred], weight[~known_pred])
    support = np.zeros(k)
    np.add.at(support, true_idx, weight)
    count = np.bincount(true_idx, minlength=k)
    predicted = confusion.sum(axis=0)
    tp = np.diag(confusion)

    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.shape != (n, k):
            raise ValueError(f"proba has shape {proba.shape}, expected ({n}, {k})")

    per_class = {}
    not_estimable = []
    f1s, supports = [], []
    for i, c in enumerate(classes):
        precision = tp[i] / predicted[i] if predicted[i] > 0 else 0.0
        recall = tp[i] / support[i] if support[i] > 0 else 0.0
        row = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(_f1(precision, recall)),
            "support": float(support[i]),
            "count": int(count[i]),
        }
        if proba is not None:
            from sklearn.metrics import average_precision_score  # heavy (scipy, pandas)

            positives = true_idx == i
            if positives.any() and not positives.all():
                row["average_precision"] = float(
                    average_precision_score(positives, proba[:, i], sample_weight=weight)
                )
            else:
                row["average_precision"] = None
        per_class[c] = row
        if support[i] > 0:
            f1s.append(row["f1"])
            supports.append(support[i])
        else:
            not_estimable.append(c)

    total = weight.sum()
    correct = float(tp.sum())
    accuracy = correct / total if total > 0 else 0.0
    # Single-label: micro precision = correct / predicted-within-classes, micro recall = accuracy.
    predicted_total = float(predicted.sum())
    micro_p = correct / predicted_total if predicted_total > 0 else 0.0
    report = {
        "classes": classes,
        "per_class": per_class,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "micro_f1": float(_f1(micro_p, accuracy)),
        "weighted_f1": float(np.average(f1s, weights=supports)) if f1s else 0.0,
        "accuracy": float(accuracy),
        "n": int(n),
        "weighted_n": float(total),
        "confusion_matrix": confusion.tolist() if sample_weight is not None else confusion.astype(int).tolist(),
        "predicted_outside": outside.tolist() if sample_weight is not None else outside.astype(int).tolist(),
        "not_estimable": not_estimable,
    }
    if proba is not None:
        aps = [r["average_precision"] for r in per_class.values() if r["average_precision"] is not None]
        report["macro_average_precision"] = float(np.mean(aps)) if aps else None
        report["ece"] = expected_calibration_error(proba, true_idx, n_bins=n_bins, sample_weight=weight)
        report["reliability"] = reliability_bins(proba, true_idx, n_bins=n_bins, sample_weight=weight)
        report["pr_curves"] = {
            c: pr_curve_points(true_idx == i, proba[:, i], weight)
            for i, c in enumerate(classes)
            if (true_idx == i).any() and not (true_idx == i).all()
        }
    return report


def rare_class_recall(report: dict, train_counts: dict[str, int], fraction: float = 0.2) -> float | None:
    """Mean recall over the rarest ``fraction`` of classes by training count (at least one),
    counting only classes with true rows in the evaluated data."""
    estimable = [c for c in report["classes"] if report["per_class"][c]["support"] > 0 and c in train_counts]
    if not estimable:
        return None
    ranked = sorted(estimable, key=lambda c: (train_counts[c], c))
    rare = ranked[: max(1, int(round(fraction * len(ranked))))]
    return float(np.mean([report["per_class"][c]["recall"] for c in rare]))
