"""``TrainedClassifier``: a fitted head plus its calibration (temperature or Platt), per-label
thresholds, the coarse → fine decoding rule and the training report. What scoring, prediction and
export use."""
from __future__ import annotations

import numpy as np

from learner.calibration import apply_platt, softmax
from learner.heads.hierarchy import Emitted, decode, emit
from learner.training.artifact import from_bytes, to_bytes


class TrainedClassifier:
    """A fitted model plus its calibration, thresholds and training report."""

    def __init__(self, model, *, temperature: float = 1.0, platt: tuple[float, float] | None = None,
                 thresholds: dict[str, float] | None = None, coarse_thresholds: dict[str, float] | None = None,
                 parents: dict[str, str] | None = None, fine_floor: float = 0.75, report: dict | None = None):
        self.model = model
        self.classes_: list[str] = [str(c) for c in model.classes_]
        self.temperature = float(temperature)
        self.platt = platt
        self.thresholds = {c: float((thresholds or {}).get(c, 0.0)) for c in self.classes_}
        self.coarse_thresholds = dict(coarse_thresholds or {})
        self.parents = dict(parents) if parents else None
        self.fine_floor = fine_floor
        self.class_weights = getattr(model, "class_weights_", {})
        self.report = report or {}

    def logits(self, X) -> np.ndarray:
        return self.model.decision_function(np.asarray(X, dtype=np.float32))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, columns in ``classes_`` order; rows sum to 1."""
        z = self.logits(X)
        if self.platt is not None:
            return apply_platt(z, *self.platt)
        return softmax(z, self.temperature)

    def predict(self, X) -> list[str]:
        """Top label (for a hierarchy: the best fine label within the most probable branch)."""
        proba = self.predict_proba(X)
        if self.parents:
            return [str(v) for v in decode(proba, self.classes_, self.parents, self.fine_floor)[0]]
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def decide(self, X, proba=None) -> list[dict]:
        """Per row: label, coarse_label (None without a hierarchy), prob, needs_review, fallback.
        With a hierarchy and P(fine | coarse) < fine_floor the row falls back: ``label`` is then the
        coarse label, ``prob`` its probability, and ``fine_label`` / ``fine_prob`` keep the
        rejected candidate. needs_review: prob below the emitted label's threshold."""
        proba = self.predict_proba(X) if proba is None else np.asarray(proba)
        out = self.emitted(proba)
        if not self.parents:
            return [{"label": str(label), "coarse_label": None, "prob": float(p), "needs_review": bool(review),
                     "fallback": False} for label, p, review in zip(out.label, out.prob, out.needs_review, strict=True)]
        fine = np.array(self.classes_, dtype=object)[out.fine_column]
        return [{"label": str(label), "coarse_label": str(coarse), "prob": float(p), "needs_review": bool(review),
                 "fallback": bool(fb), "fine_label": str(f), "fine_prob": float(fp), "fine_conditional": float(cond)}
                for label, coarse, p, review, fb, f, fp, cond in zip(
                    out.label, out.coarse_label, out.prob, out.needs_review, out.fallback, fine, out.fine_prob,
                    out.conditional, strict=True)]

    def emitted(self, proba) -> Emitted:
        """What the model emits for each row of calibrated ``proba`` (``learner.heads.hierarchy.emit``
        with this model's taxonomy, fallback floor and thresholds), as arrays: what ``decide`` returns
        row by row, and what the held-out figures and the stored scores are of."""
        return emit(proba, self.classes_, self.parents, self.fine_floor, self.thresholds, self.coarse_thresholds)

    def to_bytes(self) -> bytes:
        """The artifact (see ``learner.training.artifact``)."""
        return to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedClassifier:
        """Only for artifacts this app wrote itself (see ``learner.training.artifact``)."""
        obj = from_bytes(data)
        if not isinstance(obj, cls):
            raise ValueError(f"artifact holds a {type(obj).__name__}, not a TrainedClassifier")
        return obj
