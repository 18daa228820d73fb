"""Flat, coarse → fine or their blend, and the fallback floor, chosen by evidence on the labels a
retrain has. With ``TrainConfig(hierarchy="auto")`` and a two-level taxonomy, ``choose_hierarchy``
computes out-of-fold predictions (group-aware, stratified K folds over the training labels only; the
same folds for every option) of a flat head and of a coarse → fine head; the blend's
(``BlendedHead``: the mean of the two's probabilities) follow from those two without training. Each
is decoded the way the served model does (temperature-scaled, then the best fine label within the
most probable coarse branch; the branch sums depend on the temperature). The blend is kept unless a
single structure's out-of-fold macro-F1 beats it by more than the noise:
``TrainConfig.hierarchy_min_gain`` (0.01) and two standard errors of the paired per-fold
differences (the larger gain wins when both do). With too little evidence to compare (fewer than
``MIN_ROWS`` comparable rows or fewer than two labels among them), ``FALLBACK``: the blend, which
beat both on the dev splits of trec and airline_tweets (docs/simulation.md, round 10).
The fallback floor (below it only the coarse label is emitted) is then chosen on the chosen
structure's out-of-fold probabilities, temperature-scaled on those same predictions, among
``FLOORS``: the floor with the highest macro-F1 over fine labels when a fallback row emits no fine
label (abstaining from a wrong fine label raises that label's precision; abstaining from a right
one costs recall). The configured floor is a candidate too, and keeps a tie; other ties go to the lowest.

Everything the choice saw goes into the report: per-option macro-F1, the rows compared, the folds,
the floor set (``fine_floor_set``) and the score of every floor.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from learner.calibration import fit_temperature, softmax
from learner.heads.hierarchy import decode
from learner.training.evaluate import TEMPERATURE_BOUNDS
from learner.training.oof import FoldPart, evidence_name, fold_index, fold_parts, out_of_fold

STRUCTURES = ("flat", "coarse_then_fine")
FALLBACK = "blend"
NAMES = {"flat": "flat", "coarse_then_fine": "coarse → fine", "blend": "blend"}
FLOORS = (0.0, 0.3, 0.5, 0.6, 0.75, 0.9)
MIN_ROWS = 20


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray) -> float:
    """Weighted macro-F1 over the labels present in ``y_true``; a ``None`` prediction (a fallback
    row) counts as no fine label emitted."""
    scores = []
    for label in np.unique(y_true):
        true = y_true == label
        pred = y_pred == label
        denominator = weight[pred].sum() + weight[true].sum()
        scores.append(2 * weight[true & pred].sum() / denominator if denominator > 0 else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def paired_standard_error(diffs: list[float]) -> float:
    """Standard error of the mean of paired per-fold differences (inf with fewer than two folds):
    the noise an out-of-fold choice must clear."""
    return float(np.std(diffs, ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else float("inf")


def floor_scores(logits: np.ndarray, y_true: np.ndarray, weight: np.ndarray, classes: list[str],
                 parents: dict[str, str], configured: float | None = None) -> dict[str, float]:
    """Macro-F1 with abstention at each candidate floor (``FLOORS`` and the ``configured`` one: a
    lead's floor between them is judged too, so it can win, ties included), on temperature-scaled
    out-of-fold probabilities (the served model decodes calibrated probabilities)."""
    index = {c: i for i, c in enumerate(classes)}
    temperature = fit_temperature(logits, np.array([index[v] for v in y_true]), weight, bounds=TEMPERATURE_BOUNDS)
    fine, _, conditional, _, _, _ = decode(softmax(logits, temperature), classes, parents, 0.0)
    fine = fine.astype(str)
    out = {}
    for floor in sorted({*FLOORS, *([float(configured)] if configured is not None else [])}):
        emitted = np.where(conditional < floor, None, fine).astype(object)
        out[f"{floor:g}"] = round(macro_f1(y_true, emitted, weight), 4)
    return out


def choose_hierarchy(config, parents: dict[str, str], descriptions, X, y, weight, groups,
                     cross_fitted: list[FoldPart] | None = None):
    """(config with ``hierarchy`` and ``fine_floor`` resolved, report of the evidence); see the
    module docstring. ``cross_fitted``: folds with their own embeddings instead of folds over
    ``X`` (``learner.training.oof``)."""
    started = time.perf_counter()
    classes = sorted({str(v) for v in y})
    folds = len(cross_fitted) if cross_fitted is not None else config.cv_folds if config.cv_folds >= 2 else 5
    cv_config = replace(config, cv_folds=folds, hierarchy="flat")
    parts = fold_parts(X, y, groups, folds, config.seed, cross_fitted=cross_fitted)
    held = {}
    for option in STRUCTURES:
        held[option] = out_of_fold(replace(cv_config, hierarchy=option), parents, descriptions, X, y, weight,
                                   groups, classes, cross_fitted=parts)
    common = np.intersect1d(held["flat"][0], held["coarse_then_fine"][0])
    report: dict = {"requested": "auto", "folds": folds, "rows_compared": int(len(common)), "macro_f1": {},
                    "chosen": FALLBACK, "reason": "", "fine_floor": config.fine_floor, "floors": None,
                    "fine_floor_set": config.fine_floor,
                    "evidence": evidence_name(cross_fitted)}
    y_common = y[common]
    if len(common) < MIN_ROWS or len(set(y_common.tolist())) < 2:
        report["reason"] = (f"too little out-of-fold evidence ({len(common)} comparable rows; need {MIN_ROWS} "
                            f"over 2 labels): kept {FALLBACK}")
        report["seconds"] = round(time.perf_counter() - started, 3)
        return replace(config, hierarchy=FALLBACK), report
    w_common = weight[common]
    logits, scaled = {}, {}
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.array([index[v] for v in y_common])
    for option, (rows, option_logits) in held.items():
        logits[option] = option_logits[np.searchsorted(rows, common)]
        # Decoded as served: on temperature-scaled probabilities (the branch sums depend on T).
        temperature = fit_temperature(logits[option], y_idx, w_common, bounds=TEMPERATURE_BOUNDS)
        scaled[option] = softmax(logits[option], temperature)
        fine = decode(scaled[option], classes, parents, 0.0)[0].astype(str)
        report["macro_f1"][option] = round(macro_f1(y_common, fine.astype(object), w_common), 4)
    # The blend (BlendedHead: the mean of the two heads' probabilities) needs no training of its
    # own here: its out-of-fold logits come from the two structures' out-of-fold predictions.
    logits["blend"] = np.log(np.maximum((softmax(logits["flat"]) + softmax(logits["coarse_then_fine"])) / 2,
                                        1e-300)).clip(-1e4)
    temperature = fit_temperature(logits["blend"], y_idx, w_common, bounds=TEMPERATURE_BOUNDS)
    scaled["blend"] = softmax(logits["blend"], temperature)
    report["macro_f1"]["blend"] = round(macro_f1(
        y_common, decode(scaled["blend"], classes, parents, 0.0)[0].astype(str).astype(object), w_common), 4)
    # Paired per-fold differences against the blend: the noise a single structure must clear to
    # replace it. On labels an active learner chose, out-of-fold differences of a few thousandths
    # did not carry over to new data (trec).
    fold = fold_index(parts, len(y))[common]
    diffs = {option: [] for option in STRUCTURES}
    for f in np.unique(fold):
        rows = fold == f
        if len(set(y_common[rows].tolist())) < 2:
            continue
        scores = {}
        for option in (*STRUCTURES, "blend"):
            fine = decode(scaled[option][rows], classes, parents, 0.0)[0].astype(str)
            scores[option] = macro_f1(y_common[rows], fine.astype(object), w_common[rows])
        for option in STRUCTURES:
            diffs[option].append(scores[option] - scores["blend"])
    margins = {option: max(config.hierarchy_min_gain, 2 * paired_standard_error(diffs[option]))
               for option in STRUCTURES}
    gains = {option: report["macro_f1"][option] - report["macro_f1"]["blend"] for option in STRUCTURES}
    winners = [option for option in STRUCTURES if gains[option] > margins[option]]
    chosen = max(winners, key=gains.get) if winners else FALLBACK
    report["chosen"] = chosen
    report["margin"] = {o: (round(m, 4) if np.isfinite(m) else None) for o, m in margins.items()}
    report["fold_differences"] = {o: [round(d, 4) for d in diffs[o]] for o in STRUCTURES}
    scores_text = ", ".join(f"{NAMES[o]} {report['macro_f1'][o]:.4f}" for o in ("blend", *STRUCTURES))
    report["reason"] = (f"out-of-fold macro-F1 {scores_text}: "
                        + (f"{NAMES[chosen]} beats the blend by more than the noise margin" if chosen != FALLBACK else
                           "neither single structure beats the blend by more than the noise margin (max of "
                           f"{config.hierarchy_min_gain:g} and 2 standard errors over the folds): blend"))
    scores = floor_scores(logits[chosen], y_common, w_common, classes, parents, config.fine_floor)
    best = max(scores.values())
    tied = [float(f) for f, s in scores.items() if s == best]
    floor = config.fine_floor if any(abs(config.fine_floor - f) < 1e-6 for f in tied) else min(tied)
    report["floors"] = scores
    report["fine_floor"] = floor
    report["seconds"] = round(time.perf_counter() - started, 3)
    return replace(config, hierarchy=chosen, fine_floor=floor), report
