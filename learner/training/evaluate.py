"""Calibration, thresholds and held-out metrics of a training run, from held-out logits
(a validation split or out-of-fold predictions; real labels only, never pseudo-labels)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from learner.calibration import apply_platt, fit_platt, fit_temperature, softmax
from learner.heads.hierarchy import coarse_proba, decode
from learner.metrics import classification_report, expected_calibration_error
from learner.thresholds import choose_thresholds, needs_review

MIN_EVAL_ROWS = 10  # fewer held-out predictions than this: no calibration, thresholds or metrics
TEMPERATURE_BOUNDS = (0.1, 10.0)  # benchmark temperatures: 0.25-1.25 (docs/learner_bench.md)


@dataclass
class Calibrated:
    """What held-out predictions decide: the calibration, per-label thresholds and the report parts."""

    temperature: float = 1.0
    platt: tuple[float, float] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    coarse_thresholds: dict[str, float] = field(default_factory=dict)
    calibration: dict = field(default_factory=lambda: {
        "method": "none", "temperature": 1.0, "platt": None, "ece_before": None, "ece_after": None})
    report: dict = field(default_factory=dict)


def calibrate_and_evaluate(config, logits, y_val, w_val, classes: list[str], targets: dict,
                           parents: dict | None, notes: list[str]) -> Calibrated:
    """Fit the calibration on held-out ``logits`` (rows = held-out items, columns = ``classes``),
    choose thresholds for ``targets`` on the calibrated probabilities and report held-out metrics.
    ``notes`` collects what a lead should know (appended to)."""
    out = Calibrated()
    report = out.report
    index = {c: i for i, c in enumerate(classes)}
    temperature, platt = 1.0, None
    y_val_idx = np.array([index[v] for v in y_val], dtype=int)
    before = softmax(logits)
    method = config.calibrate
    if method == "platt" and len(classes) != 2:
        notes.append("Platt scaling needs exactly two classes; used temperature scaling instead")
        method = "temperature"
    if method == "temperature":
        temperature = fit_temperature(logits, y_val_idx, w_val, bounds=TEMPERATURE_BOUNDS)
        if min(abs(temperature - b) / b for b in TEMPERATURE_BOUNDS) < 0.01:
            # Typically a held-out set the model gets (almost) all right: the likelihood keeps
            # improving as T shrinks, so the bound, not the data, chose T.
            notes.append(f"temperature {temperature:.3g} is at its search bound {TEMPERATURE_BOUNDS}: "
                         f"too little held-out evidence ({len(y_val)} rows) to pin it down")
        after = softmax(logits, temperature)
    elif method == "platt":
        platt = fit_platt(logits, y_val_idx, w_val)
        after = apply_platt(logits, *platt)
    else:
        after = before
    calibration = {
        "method": method, "temperature": temperature, "platt": list(platt) if platt else None,
        "ece_before": expected_calibration_error(before, y_val_idx, 15, w_val),
        "ece_after": expected_calibration_error(after, y_val_idx, 15, w_val),
    }
    fine_targets = {k: v for k, v in targets.items() if k in index}
    coarse_targets = {k: v for k, v in targets.items() if k not in index}
    if coarse_targets and not parents:
        raise ValueError(f"targets name labels with no examples: {sorted(coarse_targets)[:10]}")
    thresholds, table = choose_thresholds(after, y_val_idx, classes, fine_targets, w_val)
    predicted = [classes[i] for i in after.argmax(axis=1)]
    report["validation"] = classification_report(y_val, predicted, after, classes, w_val)
    if parents:
        cp, coarse_classes = coarse_proba(after, classes, parents)
        unknown_coarse = sorted(set(coarse_targets) - set(coarse_classes))
        if unknown_coarse:
            raise ValueError(f"targets name labels that are neither fine nor coarse labels: {unknown_coarse[:10]}")
        c_index = {c: i for i, c in enumerate(coarse_classes)}
        y_val_coarse = [parents[v] for v in y_val]
        coarse_thresholds, coarse_table = choose_thresholds(
            cp, np.array([c_index[v] for v in y_val_coarse]), coarse_classes, coarse_targets, w_val)
        fine, _, _, coarse_pred, _, fallback = decode(after, classes, parents, config.fine_floor)
        report["hierarchy"] = {
            "coarse_validation": classification_report(y_val_coarse, coarse_pred, cp, coarse_classes, w_val),
            "fine_floor": config.fine_floor,
            "fallback_share": float(np.average(fallback, weights=w_val)),
            "coarse_thresholds": coarse_table,
        }
        out.coarse_thresholds = coarse_thresholds
    report["thresholds"] = table
    report["review_share"] = float(np.average(needs_review(after, classes, thresholds), weights=w_val))
    out.temperature, out.platt, out.thresholds = temperature, platt, thresholds
    out.calibration = calibration
    return out
