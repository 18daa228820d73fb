"""The final model's calibration, thresholds and held-out figures, from rows no part of it saw.

A retrain's figures come from fold heads on fixed embeddings (``train_classifier``). The final
model's encoder is fine-tuned on every label, so its embeddings of a labeled row already carry that
row's label: fold heads on them judge each held-out row with an encoder that learned it, and the
temperature, the thresholds, "met" and the per-label table come out flattering (on trec with 400
labels, an out-of-fold macro-F1 of 0.83 against 0.60 on the test split). The honest evidence is
the cross-fitted one the comparison with the frozen encoder already pays for: per fold, an encoder
fine-tuned on the other folds, and a head fitted as the served head is (same settings,
self-training on that encoder's embeddings of the unlabeled texts), predicting the held-out fold.
The fold heads are fitted after the served one, with its resolved settings (the structure and
floor its evidence chose, the prior, the penalty), so the calibration belongs to the model served;
that evidence came from the same folds (``FoldEvidence.parts``).
``recalibrate`` keeps the served head and encoder and replaces what the held-out rows decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from learner.calibration import matched_temperature
from learner.training import TrainConfig, TrainedClassifier, train_classifier
from learner.training.evaluate import TEMPERATURE_BOUNDS, calibrate_and_evaluate
from learner.training.fit import HELD_OUT_NOTE
from learner.training.oof import FoldPart, aligned_logits

MIN_MATCH_ROWS = 50  # as train_classifier: fewer unlabeled rows than this keep the out-of-fold temperature


@dataclass
class FoldView:
    """One cross-fitted fold: its training and held-out rows, and its encoder's embeddings of every
    labeled text, of the unlabeled texts and of the label names (None where there are none)."""

    train: np.ndarray
    held: np.ndarray
    X: np.ndarray
    unlabeled: np.ndarray | None
    label_vectors: dict | None


@dataclass
class FoldEvidence:
    views: list = field(default_factory=list)
    heads: list = field(default_factory=list)  # filled by ``recalibrate``, one per view

    @property
    def rows(self) -> list:
        return [v.held for v in self.views]

    def add(self, view: FoldView) -> None:
        self.views.append(view)

    def parts(self) -> list[FoldPart]:
        """The folds as the served head's "auto" choices take them (``learner.training.oof``)."""
        return [FoldPart(v.train, v.held, v.X, v.label_vectors) for v in self.views]

    def logits(self, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(held-out rows, their raw logits in the columns of ``classes``), in row order."""
        rows = np.concatenate(self.rows)
        logits = np.vstack([aligned_logits(h.model, v.X[v.held], classes)
                            for h, v in zip(self.heads, self.views, strict=True)])
        order = np.argsort(rows)
        return rows[order], logits[order]


def recalibrate(served: TrainedClassifier, evidence: FoldEvidence, y: np.ndarray, groups, targets: dict | None,
                parents: dict | None, served_unlabeled_X, unlabeled_total: int | None = None) -> TrainedClassifier:
    """``served``'s head with the calibration, thresholds and held-out report found on the fold
    evidence (the served classifier's own came from folds over the fine-tuned embeddings). Each
    fold head is fitted with the served head's settings as its retrain resolved them (structure,
    fallback floor, prior, penalty), so the calibration is fitted on the model that is served."""
    config = TrainConfig.from_dict(served.report["config"])
    fold_config = replace(config, threshold_mix="labeled")  # only the fold heads' raw logits are read
    groups = None if groups is None else np.asarray(groups)
    evidence.heads = [train_classifier(v.X[v.train], y[v.train], config=fold_config, parents=parents,
                                       groups=None if groups is None else groups[v.train], unlabeled=v.unlabeled,
                                       label_vectors=v.label_vectors)
                      for v in evidence.views]
    classes = served.classes_
    rows, logits = evidence.logits(classes)
    notes = [n for n in served.report.get("notes", []) if not n.startswith(HELD_OUT_NOTE)]  # replaced below
    notes.append(f"{HELD_OUT_NOTE} {len(evidence.views)} cross-fitted folds ({len(rows)} rows): "
                 "each row held out of both the fold's encoder fine-tuning and its head")
    unlabeled_logits = (served.logits(served_unlabeled_X) if config.threshold_mix == "pool"
                        and served_unlabeled_X is not None and len(served_unlabeled_X) else None)
    calibrated = calibrate_and_evaluate(config, logits, y[rows], np.ones(len(rows)), classes, dict(targets or {}),
                                        parents, notes, groups=None if groups is None else groups[rows],
                                        unlabeled_logits=unlabeled_logits,
                                        pool_counts=None if unlabeled_total is None else (len(y), unlabeled_total))
    if config.match_temperature and calibrated.calibration.get("method") == "temperature":
        match_to_folds(calibrated, served, evidence, served_unlabeled_X, notes)
    report = {**served.report, **calibrated.report, "validation_source": "fine-tuned encoder folds",
              "calibration": calibrated.calibration, "n_evaluated": int(len(rows)),
              "not_estimable": sorted(set(served.report.get("class_counts", {})) - set(y[rows].tolist())),
              "notes": notes}
    choices = dict(report.get("choices") or {})
    mix = calibrated.report.get("threshold_mix")
    choices["threshold_mix"] = None if mix is None else {k: mix.get(k) for k in ("setting", "used", "source", "reason")}
    report["choices"] = choices
    return TrainedClassifier(served.model, temperature=calibrated.temperature, platt=calibrated.platt,
                             thresholds=calibrated.thresholds, coarse_thresholds=calibrated.coarse_thresholds,
                             parents=served.parents, fine_floor=served.fine_floor, report=report)


def match_to_folds(calibrated, served: TrainedClassifier, evidence: FoldEvidence, served_unlabeled_X,
                   notes: list[str]) -> None:
    """``match_temperature`` for the final model: the served head on the served encoder's
    embeddings of the unlabeled texts, matched to each fold head on its own encoder's embeddings
    of the same texts (``learner.calibration.matched_temperature``)."""
    if served_unlabeled_X is None or len(served_unlabeled_X) < MIN_MATCH_ROWS or any(
            v.unlabeled is None for v in evidence.views):
        notes.append(f"served temperature = the out-of-fold one (no unlabeled sample of {MIN_MATCH_ROWS} rows "
                     "to match it on)")
        return
    fold_temperature = calibrated.temperature
    folds = [aligned_logits(h.model, v.unlabeled, served.classes_)
             for h, v in zip(evidence.heads, evidence.views, strict=True)]
    calibrated.temperature = matched_temperature(served.logits(served_unlabeled_X), folds, fold_temperature,
                                                 TEMPERATURE_BOUNDS)
    calibrated.calibration.update(temperature=calibrated.temperature, temperature_out_of_fold=fold_temperature,
                                  matched_on_unlabeled=int(len(served_unlabeled_X)))
