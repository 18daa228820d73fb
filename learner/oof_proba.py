"""Out-of-fold class probabilities of labeled rows: every row is scored by a model fitted on the
folds that do not hold it (group-aware, so near-duplicates never straddle a fold), with the
product's own head and options, then temperature-scaled on those held-out logits.

Label-issue detection (``learner.label_issues``) needs exactly this: a model that trained on a
wrong label has partly learnt it, so in-sample probabilities hide the mistake.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from learner.calibration import fit_temperature, softmax
from learner.training import TrainConfig
from learner.training.fit import out_of_fold


def out_of_fold_proba(X, y, *, groups=None, config: TrainConfig | None = None, folds: int = 5
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(rows, proba, classes)``: the rows that got a held-out prediction (a row whose label is
    missing from its fold's training part gets none), their calibrated probabilities (columns =
    ``classes``, the sorted labels of ``y``). Raises ValueError on mismatched lengths."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=object)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X has shape {X.shape} but y has {len(y)} rows")
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} rows but y has {len(y)}")
    classes = sorted({str(c) for c in y})
    y = np.asarray([str(c) for c in y], dtype=object)
    if len(classes) < 2 or folds < 2:
        return np.zeros(0, dtype=int), np.zeros((0, len(classes))), classes
    config = replace(config or TrainConfig(), cv_folds=int(folds), self_training=False, resample="none")
    rows, logits = out_of_fold(config, None, None, X, y, np.ones(len(y)), groups, classes)
    if len(rows) == 0:
        return rows, np.zeros((0, len(classes))), classes
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.asarray([index[c] for c in y[rows]])
    temperature = fit_temperature(logits, y_idx) if len(set(y_idx.tolist())) >= 2 else 1.0
    return rows, softmax(logits, temperature), classes
