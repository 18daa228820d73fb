"""Held-out predictions of a training configuration: ``fit_weighted`` (one fit on chosen rows,
resampled, with pseudo-labeled rows appended) and ``out_of_fold`` (group-aware K-fold logits), used
by ``train_classifier`` for calibration on small data and by the per-retrain choices.

The folds are ``FoldPart``s. Usually they share the caller's embeddings. The final model's are
cross-fitted: each fold's embeddings come from an encoder fine-tuned on that fold's training rows
only, since folds over an encoder fine-tuned on every label judge each held-out row with an
encoder that learned it (``learner.finetune.final``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learner.splits import group_kfold
from learner.training.build import build_model
from learner.weighting import resample


@dataclass(frozen=True)
class FoldPart:
    """One fold of held-out evidence: its training and held-out rows (indices into the labeled
    rows), the embeddings of every labeled row its fits see, and the label vectors in that space
    (the label-name prior's rows)."""

    train: np.ndarray
    held: np.ndarray
    X: np.ndarray
    label_vectors: dict | None = None


def fold_parts(X, y, groups, folds: int, seed: int, label_vectors: dict | None = None,
               cross_fitted: list[FoldPart] | None = None) -> list[FoldPart]:
    """``cross_fitted`` as given, else ``folds`` group-aware, stratified folds over ``X``."""
    if cross_fitted is not None:
        return list(cross_fitted)
    fold = group_kfold(y, groups, folds, seed=seed)
    return [FoldPart(np.flatnonzero(fold != f), np.flatnonzero(fold == f), X, label_vectors) for f in range(folds)]


def evidence_name(cross_fitted) -> str:
    """How a choice's folds were made, for its report."""
    return ("cross-fitted folds (each fold's own fine-tuned encoder)" if cross_fitted is not None
            else "folds over the labeled rows' embeddings")


def fold_index(parts: list[FoldPart], n: int) -> np.ndarray:
    """Each labeled row's fold (its position in ``parts``), -1 where no part holds it out."""
    index = np.full(n, -1)
    for f, part in enumerate(parts):
        index[part.held] = f
    return index


def check_cross_fitted(parts: list[FoldPart], shape: tuple) -> None:
    for f, part in enumerate(parts):
        if np.shape(part.X) != shape:
            raise ValueError(f"cross-fitted fold {f + 1}: embeddings of shape {np.shape(part.X)}, the labeled rows' "
                             f"are {shape}")
        if np.intersect1d(part.train, part.held).size:
            raise ValueError(f"cross-fitted fold {f + 1}: a held-out row is also a training row")


def out_of_fold(config, parents, descriptions, X, y, weight, groups, classes, extra=None, extra_for=None,
                models_out: list | None = None, cross_fitted: list[FoldPart] | None = None):
    """Held-out logits (columns = ``classes``) from ``config.cv_folds`` group-aware folds (or the
    ``cross_fitted`` parts, each with its own embeddings); rows whose label is missing from their
    fold's training part are left out. ``extra_for(train_rows)``, when given, supplies each fold's
    appended rows instead of ``extra`` (pseudo-labels made without the fold's held-out rows).
    ``models_out``, when given, receives each fold's model."""
    rows_out, logits_out = [], []
    for part in fold_parts(X, y, groups, config.cv_folds, config.seed, cross_fitted=cross_fitted):
        train, held = part.train, part.held
        if len(held) == 0 or len(set(y[train])) < 2 or weight[train].sum() <= 0:
            continue
        fold_extra = extra if extra_for is None else extra_for(train)
        model = fit_weighted(config, parents, descriptions, part.X, y, train, weight, fold_extra)
        if models_out is not None:
            models_out.append(model)
        fold_classes = [str(c) for c in model.classes_]
        keep = held[np.isin(y[held], fold_classes)]
        if len(keep) == 0:
            continue
        rows_out.append(keep)
        logits_out.append(aligned_logits(model, part.X[keep], classes))
    if not rows_out:
        return np.zeros(0, dtype=int), np.zeros((0, len(classes)))
    rows = np.concatenate(rows_out)
    logits = np.vstack(logits_out)
    order = np.argsort(rows)
    return rows[order], logits[order]


def held_out_argmax(arms: dict, parents, descriptions, y, weight, parts: list[FoldPart]) -> list:
    """Per evaluable fold of ``parts``, (held-out rows, {arm: predicted label of each held-out
    row}) for arms ``{name: (config, extra_for)}``: each arm fitted on the fold's training rows
    with ``extra_for(part)`` appended (None: nothing). The per-retrain choices (label-name prior,
    penalty) compare arms on these."""
    out = []
    for part in parts:
        train, held = part.train, part.held
        if len(held) == 0 or len(set(y[train].tolist())) < 2 or weight[train].sum() <= 0:
            continue
        predicted = {}
        for name, (config, extra_for) in arms.items():
            model = fit_weighted(config, parents, descriptions, part.X, y, train, weight,
                                 None if extra_for is None else extra_for(part))
            classes = np.array([str(c) for c in model.classes_], dtype=object)
            predicted[name] = classes[np.asarray(model.decision_function(part.X[held])).argmax(axis=1)]
        out.append((held, predicted))
    return out


def aligned_logits(model, X, classes) -> np.ndarray:
    """``model``'s logits on ``X`` in the columns of ``classes``; a label it never saw gets -1e4."""
    index = {c: i for i, c in enumerate(classes)}
    full = np.full((len(X), len(classes)), -1e4)
    full[:, [index[str(c)] for c in model.classes_]] = model.decision_function(X)
    return full


def applies_class_weights(config) -> bool:
    """Whether the heads ``config`` builds weight rows by class (``config.weighting``): not with
    "none", nor for a focal loss given its own α (the torch head then uses α instead)."""
    if config.weighting == "none":
        return False
    return not (config.head == "torch" and config.loss == "focal" and config.alpha is not None)


def fit_weighted(config, parents, descriptions, X, y, rows, weight, extra=None):
    """Fit on ``rows`` after resampling them (train part only), carrying the caller's row weights;
    ``extra`` (X, y, weight) pseudo-labeled rows are appended as they are (never resampled)."""
    local = np.unique(y[rows], return_inverse=True)[1]
    idx, w = resample(local, config.resample, seed=config.seed, class_weighted=applies_class_weights(config))
    chosen = rows[idx]
    X_fit, y_fit, w_fit = X[chosen], y[chosen], w * weight[chosen]
    if extra is not None:
        X_fit = np.vstack([X_fit, extra[0]])
        y_fit = np.concatenate([y_fit, extra[1]])
        w_fit = np.concatenate([w_fit, extra[2]])
    model = build_model(config, parents, descriptions)
    model.fit(X_fit, y_fit, sample_weight=w_fit)
    return model
