"""Self-training: a first model's surest calibrated predictions on unlabeled rows become
down-weighted pseudo-labels for the second fit (see ``train_classifier``), and the one rule for
which unlabeled rows a retrain may look at, shared by the product and the simulation."""
from __future__ import annotations

from collections import Counter

import numpy as np

from learner.training.checks import first_nonfinite_row
from learner.training.classifier import TrainedClassifier
from learner.training.config import TrainConfig


def sample_unlabeled_rows(unlabeled_rows: np.ndarray, limit: int, *, seed: int) -> np.ndarray:
    """Up to ``limit`` of ``unlabeled_rows`` (row numbers of a pool's unlabeled items), a seeded
    uniform sample in ascending order; all of them when there are no more than ``limit``; none
    when ``limit`` is 0. The product seeds it with the model version's number, the simulation
    with the wave's, so a simulated retrain sees the rows the product's would."""
    rows = np.asarray(unlabeled_rows, dtype=np.int64)
    if limit <= 0:
        return rows[:0]
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    return rows


def rows_outside_labeled_groups(groups, labeled_rows) -> np.ndarray:
    """Row numbers (ascending) of a pool whose duplicate group holds no labeled row: what
    self-training may look at. A near-duplicate of a labeled row is left out, otherwise the first
    pass (which saw every label, validation included) would hand a validation item's label back to
    the second pass through its twin."""
    groups = np.asarray(groups)
    labeled = np.zeros(len(groups), bool)
    labeled[np.asarray(labeled_rows, dtype=np.int64)] = True
    return np.flatnonzero(~np.isin(groups, groups[labeled]))


def pseudo_labels(first: TrainedClassifier, unlabeled, config: TrainConfig, n_labeled: int, width: int):
    """(X, y, weight) of the unlabeled rows ``first`` labels with calibrated top probability at
    least ``pseudo_threshold``, surest first, capped at ``pseudo_max_ratio`` × ``n_labeled``, each
    weighted ``pseudo_weight`` (times its top probability with ``pseudo_weighting="confidence"``);
    and a report. (None, report) when no row qualifies."""
    U = np.asarray(unlabeled, dtype=np.float32)
    if U.ndim != 2 or U.shape[1] != width:
        raise ValueError(f"unlabeled must be a 2-d array of width {width} like X, got shape {U.shape}")
    bad = first_nonfinite_row(U)
    if bad is not None:
        raise ValueError(f"unlabeled row {bad} holds NaN or infinite values")
    proba = first.predict_proba(U)
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(U)), top]
    chosen = np.flatnonzero(confidence >= config.pseudo_threshold)
    cap = int(config.pseudo_max_ratio * n_labeled)
    if len(chosen) > cap:
        chosen = chosen[np.argsort(-confidence[chosen], kind="stable")[:cap]]
    classes = np.array(first.classes_, dtype=object)
    labels = classes[top[chosen]].astype(str)
    report = {"unlabeled": int(len(U)), "pseudo_rows": int(len(chosen)), "threshold": config.pseudo_threshold,
              "weight": config.pseudo_weight, "weighting": config.pseudo_weighting,
              "max_ratio": config.pseudo_max_ratio, "per_label": dict(sorted(Counter(labels.tolist()).items()))}
    if len(chosen) == 0:
        return None, report
    weight = np.full(len(chosen), config.pseudo_weight)
    if config.pseudo_weighting == "confidence":
        weight = weight * confidence[chosen]
    return (U[chosen], labels, weight), report

