"""Two-level taxonomies: a coarse head, then a fine head within each coarse branch.

``HierarchicalHead`` is an estimator like the flat heads: ``decision_function`` returns the log
of the flat fine-label probability ``P(coarse) · P(fine | coarse)``, so calibration, thresholds
and metrics treat it like any head. ``decode`` applies the fallback rule: when the fine
probability within the predicted branch is below ``fine_floor`` (default 0.75), only the coarse
label is emitted.

Django-free: numpy only (plus the heads it is given).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from learner.calibration import log_softmax, softmax
from learner.heads.base import ConstantHead, Head
from learner.weighting import class_weights


def check_parents(labels: Sequence[str], parents: dict[str, str]) -> None:
    missing = sorted({str(label) for label in labels} - set(parents))
    if missing:
        raise ValueError(f"parents names no coarse label for fine label(s) {missing[:10]}")


def coarse_of(labels: Sequence[str], parents: dict[str, str]) -> np.ndarray:
    check_parents(labels, parents)
    return np.array([parents[str(label)] for label in labels], dtype=object).astype(str)


def coarse_proba(proba, classes: Sequence[str], parents: dict[str, str]) -> tuple[np.ndarray, list[str]]:
    """Sum flat fine probabilities into their coarse branches."""
    proba = np.asarray(proba, dtype=np.float64)
    coarse_classes = sorted({parents[c] for c in classes})
    index = {c: i for i, c in enumerate(coarse_classes)}
    member = np.zeros((len(classes), len(coarse_classes)))
    for j, c in enumerate(classes):
        member[j, index[parents[c]]] = 1.0
    return proba @ member, coarse_classes


def decode(proba, classes: Sequence[str], parents: dict[str, str], fine_floor: float = 0.75):
    """Coarse label = the most probable branch; fine label = the most probable fine label within
    it; ``fallback`` where P(fine | coarse) < ``fine_floor``. Returns arrays: fine label, fine
    probability (flat), conditional probability, coarse label, coarse probability, fallback."""
    proba = np.asarray(proba, dtype=np.float64)
    classes = list(classes)
    cproba, coarse_classes = coarse_proba(proba, classes, parents)
    coarse_idx = cproba.argmax(axis=1)
    branch = np.array([coarse_classes.index(parents[c]) for c in classes])
    masked = np.where(branch[None, :] == coarse_idx[:, None], proba, -1.0)
    fine_idx = masked.argmax(axis=1)
    rows = np.arange(len(proba))
    fine_p = proba[rows, fine_idx]
    coarse_p = cproba[rows, coarse_idx]
    conditional = np.divide(fine_p, coarse_p, out=np.zeros_like(fine_p), where=coarse_p > 0)
    fine = np.array(classes, dtype=object)[fine_idx]
    coarse = np.array(coarse_classes, dtype=object)[coarse_idx]
    return fine, fine_p, conditional, coarse, coarse_p, conditional < fine_floor


@dataclass(frozen=True)
class Emitted:
    """Per row, what the served model emits (arrays of one length). ``label``: the fine label, or
    the coarse label on fallback; ``prob``: its probability; ``column``: the emitted label's column
    in ``classes``, -1 on fallback (a coarse label is no class's prediction); ``fine_column`` /
    ``fine_prob``: the fine candidate (the best fine label within the most probable branch; the
    argmax without a hierarchy), kept on fallback; ``coarse_label``: the branch (None without a
    hierarchy); ``needs_review``: ``prob`` below the emitted label's threshold (the coarse
    threshold on fallback)."""

    label: np.ndarray
    prob: np.ndarray
    column: np.ndarray
    fine_column: np.ndarray
    fine_prob: np.ndarray
    conditional: np.ndarray
    coarse_label: np.ndarray
    fallback: np.ndarray
    needs_review: np.ndarray


def emit(proba, classes: Sequence[str], parents: dict[str, str] | None = None, fine_floor: float = 0.75,
         thresholds: dict[str, float] | None = None, coarse_thresholds: dict[str, float] | None = None) -> Emitted:
    """The label the served model emits per row of ``proba`` (columns in ``classes`` order): with
    ``parents``, ``decode`` (coarse branch, fine label within it, the coarse label where
    P(fine | coarse) < ``fine_floor``); without, the argmax. The one rule ``TrainedClassifier.decide``,
    the held-out report, the thresholds and the stored scores all read, so that every figure is of
    the label a user is given."""
    proba = np.asarray(proba, dtype=np.float64)
    classes = [str(c) for c in classes]
    thresholds, coarse_thresholds = thresholds or {}, coarse_thresholds or {}
    rows = np.arange(len(proba))
    names = np.array(classes, dtype=object)
    fine_cut = np.array([float(thresholds.get(c, 0.0)) for c in classes])
    if not parents:
        top = proba.argmax(axis=1)
        top_p = proba[rows, top]
        nothing = np.zeros(len(proba), dtype=bool)
        return Emitted(label=names[top], prob=top_p, column=top, fine_column=top, fine_prob=top_p,
                       conditional=np.ones(len(proba)), coarse_label=np.full(len(proba), None, dtype=object),
                       fallback=nothing, needs_review=top_p < fine_cut[top])
    fine, fine_p, conditional, coarse, coarse_p, fallback = decode(proba, classes, parents, fine_floor)
    index = {c: i for i, c in enumerate(classes)}
    fine_column = np.array([index[str(f)] for f in fine], dtype=int).reshape(-1)
    coarse_cut = np.array([float(coarse_thresholds.get(str(c), 0.0)) for c in coarse])
    prob = np.where(fallback, coarse_p, fine_p)
    return Emitted(label=np.where(fallback, coarse, fine), prob=prob, column=np.where(fallback, -1, fine_column),
                   fine_column=fine_column, fine_prob=fine_p, conditional=conditional, coarse_label=coarse,
                   fallback=fallback,
                   needs_review=prob < np.where(fallback, coarse_cut, fine_cut[fine_column]))


def cross_coarse_error_rate(y_true, predicted_coarse, parents: dict[str, str]) -> float:
    """Share of rows whose emitted label lies in another coarse branch than the true label
    (the "bizarre" errors: a fine label from the wrong family)."""
    true_coarse = coarse_of(y_true, parents)
    predicted_coarse = np.asarray(predicted_coarse).astype(str)
    return float(np.mean(true_coarse != predicted_coarse)) if len(true_coarse) else 0.0


class HierarchicalHead:
    """Coarse head over the coarse labels, one fine head per branch (``ConstantHead`` for a
    branch with one fine label). ``fine_factory(coarse_label)`` makes the head of a branch."""

    def __init__(self, parents: dict[str, str], coarse_factory: Callable, fine_factory: Callable,
                 fine_weighted_coarse: bool = False):
        self.parents = dict(parents)
        self.fine_weighted_coarse = fine_weighted_coarse
        self.coarse_factory = coarse_factory
        self.fine_factory = fine_factory

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray([str(v) for v in y])
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        coarse = coarse_of(y, self.parents)
        coarse_classes = np.unique(coarse)
        self.coarse_head_ = (self.coarse_factory() if len(coarse_classes) > 1 else ConstantHead())
        scheme = getattr(self.coarse_head_, "weighting", "none")
        if self.fine_weighted_coarse and scheme != "none":
            # A coarse class is as big as all its children, so a rare fine label's rows get the small
            # weight of a big branch and are routed away from it; this option gives each row the
            # weight its fine label has in a flat model instead (as the long-tail bucket does for
            # Other). Measured trade-off (docs/learner_bench.md): better fine macro-F1 on trec and
            # davidson, worse coarse accuracy, so it is off by default.
            beta = getattr(self.coarse_head_, "beta", 0.999)
            _, fine_idx, fine_counts = np.unique(y, return_inverse=True, return_counts=True)
            _, coarse_idx, coarse_counts = np.unique(coarse, return_inverse=True, return_counts=True)
            coarse_w = w * (class_weights(fine_counts, scheme, beta)[fine_idx]
                            / class_weights(coarse_counts, scheme, beta)[coarse_idx])
        else:
            coarse_w = w
        self.coarse_head_.fit(X, coarse, sample_weight=coarse_w)
        self.fine_heads_ = {}
        for c in coarse_classes:
            rows = coarse == c
            head = self.fine_factory(c) if len(np.unique(y[rows])) > 1 else ConstantHead()
            self.fine_heads_[str(c)] = head.fit(X[rows], y[rows], sample_weight=w[rows])
        self.coarse_classes_ = [str(c) for c in self.coarse_head_.classes_]
        self.classes_ = np.array(sorted({str(c) for h in self.fine_heads_.values() for c in h.classes_}))
        self.class_weights_ = {"coarse": self.coarse_head_.class_weights_,
                               **{c: h.class_weights_ for c, h in self.fine_heads_.items()}}
        return self

    def decision_function(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        log_coarse = log_softmax(self.coarse_head_.decision_function(X))
        index = {c: i for i, c in enumerate(self.classes_)}
        out = np.full((len(X), len(self.classes_)), -np.inf)
        for j, c in enumerate(self.coarse_classes_):
            head = self.fine_heads_[c]
            log_fine = log_softmax(head.decision_function(X))
            cols = [index[str(f)] for f in head.classes_]
            out[:, cols] = log_coarse[:, [j]] + log_fine
        return np.maximum(out, -1e4)  # finite, so temperature scaling stays well defined

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def inner_heads(self) -> dict:
        """The fitted heads inside, by part name ("coarse", "fine:<coarse label>"), for reports."""
        return {"coarse": self.coarse_head_, **{f"fine:{c}": h for c, h in self.fine_heads_.items()}}


class BlendedHead(Head):
    """The average of a flat head's and a coarse → fine head's fine-label probabilities
    (``decision_function``: its log; ``predict_proba`` and ``predict`` are ``Head``'s). Neither
    structure wins everywhere (docs/simulation.md, round 10: coarse → fine is the better on
    airline_tweets, flat on trec); by convexity the mixture's log loss is at most the mean of the
    two's."""

    def __init__(self, flat, tree: HierarchicalHead):
        self.flat = flat
        self.tree = tree

    def fit(self, X, y, sample_weight=None):
        self.flat.fit(X, y, sample_weight=sample_weight)
        self.tree.fit(X, y, sample_weight=sample_weight)
        if list(map(str, self.flat.classes_)) != list(map(str, self.tree.classes_)):
            raise ValueError("the flat and coarse → fine heads were fitted on different labels")
        self.coarse_head_ = self.tree.coarse_head_  # where the report finds the structure and the device
        self.classes_ = np.array([str(c) for c in self.tree.classes_])
        self.class_weights_ = {"flat": self.flat.class_weights_, "coarse_then_fine": self.tree.class_weights_}
        return self

    def decision_function(self, X) -> np.ndarray:
        proba = (softmax(self.flat.decision_function(X)) + softmax(self.tree.decision_function(X))) / 2
        return np.log(np.maximum(proba, 1e-300))  # finite (≥ -691), so temperature scaling stays defined

    def inner_heads(self) -> dict:
        """The heads inside, by part name ("flat", "coarse_then_fine"), for reports."""
        return {"flat": self.flat, "coarse_then_fine": self.tree}
