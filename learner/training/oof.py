"""Held-out predictions of a training configuration: ``fit_weighted`` (one fit on chosen rows,
resampled, with pseudo-labeled rows appended) and ``out_of_fold`` (group-aware K-fold logits), used
by ``train_classifier`` for calibration on small data and by the hierarchy choice."""
from __future__ import annotations

import numpy as np

from learner.splits import group_kfold
from learner.training.build import build_model
from learner.weighting import resample


def out_of_fold(config, parents, descriptions, X, y, weight, groups, classes, extra=None, extra_for=None,
                models_out: list | None = None):
    """Held-out logits (columns = ``classes``) from ``config.cv_folds`` group-aware folds; rows
    whose label is missing from their fold's training part are left out. ``extra_for(train_rows)``,
    when given, supplies each fold's appended rows instead of ``extra`` (pseudo-labels made
    without the fold's held-out rows). ``models_out``, when given, receives each fold's model."""
    fold = group_kfold(y, groups, config.cv_folds, seed=config.seed)
    rows_out, logits_out = [], []
    for f in range(config.cv_folds):
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        if len(held) == 0 or len(set(y[train])) < 2 or weight[train].sum() <= 0:
            continue
        fold_extra = extra if extra_for is None else extra_for(train)
        model = fit_weighted(config, parents, descriptions, X, y, train, weight, fold_extra)
        if models_out is not None:
            models_out.append(model)
        fold_classes = [str(c) for c in model.classes_]
        keep = held[np.isin(y[held], fold_classes)]
        if len(keep) == 0:
            continue
        rows_out.append(keep)
        logits_out.append(aligned_logits(model, X[keep], classes))
    if not rows_out:
        return np.zeros(0, dtype=int), np.zeros((0, len(classes)))
    rows = np.concatenate(rows_out)
    logits = np.vstack(logits_out)
    order = np.argsort(rows)
    return rows[order], logits[order]


def held_out_argmax(arms: dict, parents, descriptions, X, y, weight, groups, folds: int, seed: int) -> list:
    """Per evaluable fold of ``folds`` group-aware folds, (held-out rows, {arm: predicted label of
    each held-out row}) for arms ``{name: (config, extra_for)}``: each arm fitted on the fold's
    training rows with ``extra_for(train_rows)`` appended (None: nothing). The per-retrain choices
    (label-name prior, penalty) compare arms on these."""
    fold = group_kfold(y, groups, folds, seed=seed)
    out = []
    for f in range(folds):
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        if len(held) == 0 or len(set(y[train].tolist())) < 2 or weight[train].sum() <= 0:
            continue
        predicted = {}
        for name, (config, extra_for) in arms.items():
            model = fit_weighted(config, parents, descriptions, X, y, train, weight,
                                 None if extra_for is None else extra_for(train))
            classes = np.array([str(c) for c in model.classes_], dtype=object)
            predicted[name] = classes[np.asarray(model.decision_function(X[held])).argmax(axis=1)]
        out.append((held, predicted))
    return out


def aligned_logits(model, X, classes) -> np.ndarray:
    """``model``'s logits on ``X`` in the columns of ``classes``; a label it never saw gets -1e4."""
    index = {c: i for i, c in enumerate(classes)}
    full = np.full((len(X), len(classes)), -1e4)
    full[:, [index[str(c)] for c in model.classes_]] = model.decision_function(X)
    return full


def fit_weighted(config, parents, descriptions, X, y, rows, weight, extra=None):
    """Fit on ``rows`` after resampling them (train part only), carrying the caller's row weights;
    ``extra`` (X, y, weight) pseudo-labeled rows are appended as they are (never resampled)."""
    local = np.unique(y[rows], return_inverse=True)[1]
    idx, w = resample(local, config.resample, seed=config.seed)
    chosen = rows[idx]
    X_fit, y_fit, w_fit = X[chosen], y[chosen], w * weight[chosen]
    if extra is not None:
        X_fit = np.vstack([X_fit, extra[0]])
        y_fit = np.concatenate([y_fit, extra[1]])
        w_fit = np.concatenate([w_fit, extra[2]])
    model = build_model(config, parents, descriptions)
    model.fit(X_fit, y_fit, sample_weight=w_fit)
    return model
