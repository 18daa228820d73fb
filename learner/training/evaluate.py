"""Calibration, thresholds and held-out metrics of a training run, from held-out logits
(a validation split or out-of-fold predictions; real labels only, never pseudo-labels).

Nothing here is judged on the rows that chose it. The held-out rows are dealt into
``CROSS_FIT_FOLDS`` group-aware folds: each fold's probabilities are calibrated by a temperature
(or Platt) fitted on the other folds, so the reported ECE, the per-class metrics and the rows the
thresholds are tuned on are calibrated out of fold; the model keeps the calibration fitted on all
held-out rows. Thresholds come from ``learner.thresholds.cross_fit_thresholds``: chosen with a
lower confidence bound (precision and recall targets together), with "met" judged on the fold
that did not choose them. The thresholds (and their "met" and review-share figures) hold at the
class mix ``config.threshold_mix`` names: the tuning rows are weighted to that mix
(``learner.label_shift``); calibration and the held-out metrics stay at the labeled rows' mix, and
each threshold row also carries its held-out precision at that mix (held_out_precision_labeled_mix)
to set beside the per-class table.
Every figure (per-class table, confusion, thresholds and "met", review share) is of the label the
served model emits (``learner.heads.hierarchy.emit``): with a coarse → fine taxonomy the decoded
fine label, or the coarse label on fallback, never the flat argmax.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from learner.calibration import apply_platt, fit_platt, fit_temperature, softmax
from learner.heads.hierarchy import coarse_proba, emit
from learner.label_shift import mix_weights, resolve_mix
from learner.metrics import classification_report, expected_calibration_error
from learner.precision_bounds import kish_effective
from learner.splits import group_kfold
from learner.thresholds import choose_thresholds_with_confidence, cross_fit_thresholds

MIN_EVAL_ROWS = 10  # fewer held-out predictions than this: no calibration, thresholds or metrics
TEMPERATURE_BOUNDS = (0.1, 10.0)  # benchmark temperatures: 0.25-1.25 (docs/learner_bench.md)
CROSS_FIT_FOLDS = 5  # folds of the held-out rows for out-of-fold calibration and threshold checks


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


def _fit(method: str, logits, y_idx, w):
    """(temperature, platt) fitted on these rows."""
    if method == "temperature":
        return fit_temperature(logits, y_idx, w, bounds=TEMPERATURE_BOUNDS), None
    if method == "platt":
        return 1.0, fit_platt(logits, y_idx, w)
    return 1.0, None


def _apply(logits, temperature: float, platt) -> np.ndarray:
    return apply_platt(logits, *platt) if platt is not None else softmax(logits, temperature)


def cross_fit_folds(y_val, groups, seed: int = 0) -> np.ndarray | None:
    """Group-aware fold per held-out row, or None when there are too few rows for two folds."""
    k = min(CROSS_FIT_FOLDS, len(y_val) // 2)
    if k < 2:
        return None
    fold = group_kfold(list(y_val), groups, k, seed=seed)
    return fold if len(np.unique(fold)) >= 2 else None


def calibrate_and_evaluate(config, logits, y_val, w_val, classes: list[str], targets: dict,
                           parents: dict | None, notes: list[str], groups=None, unlabeled_logits=None,
                           pool_counts: tuple[int, int] | None = None) -> Calibrated:
    """Fit the calibration on held-out ``logits`` (rows = held-out items, columns = ``classes``),
    choose thresholds for ``targets`` on the out-of-fold calibrated probabilities and report
    held-out metrics. ``groups``: duplicate group per held-out row (kept whole in the folds).
    ``unlabeled_logits``: the same model's logits of unlabeled rows, for ``threshold_mix="pool"``;
    ``pool_counts``: (labeled rows, unlabeled rows the sample stands for), to combine the two mixes.
    ``notes`` collects what a lead should know (appended to)."""
    out = Calibrated()
    report = out.report
    index = {c: i for i, c in enumerate(classes)}
    y_val_idx = np.array([index[v] for v in y_val], dtype=int)
    w_val = np.asarray(w_val, dtype=np.float64)
    before = softmax(logits)
    method = config.calibrate
    if method == "platt" and len(classes) != 2:
        notes.append("Platt scaling needs exactly two classes; used temperature scaling instead")
        method = "temperature"
    temperature, platt = _fit(method, logits, y_val_idx, w_val)
    if method == "temperature" and min(abs(temperature - b) / b for b in TEMPERATURE_BOUNDS) < 0.01:
        # Typically a held-out set the model gets (almost) all right: the likelihood keeps
        # improving as T shrinks, so the bound, not the data, chose T.
        notes.append(f"temperature {temperature:.3g} is at its search bound {TEMPERATURE_BOUNDS}: "
                     f"too little held-out evidence ({len(y_val)} rows) to pin it down")
    fold = cross_fit_folds(y_val, groups, seed=config.seed)
    if fold is None:
        notes.append(f"only {len(y_val)} held-out rows: calibration, thresholds and metrics are judged on the "
                     "rows that fitted the calibration, and no threshold target can be checked")
        after = _apply(logits, temperature, platt)
    else:
        after = np.zeros_like(before)
        for f in np.unique(fold):
            held = fold == f
            t_f, p_f = _fit(method, logits[~held], y_val_idx[~held], w_val[~held])
            after[held] = _apply(logits[held], t_f, p_f)
    calibration = {
        "method": method, "temperature": temperature, "platt": list(platt) if platt else None,
        "ece_before": expected_calibration_error(before, y_val_idx, 15, w_val),
        "ece_after": expected_calibration_error(after, y_val_idx, 15, w_val),
        "ece_after_source": "out of fold" if fold is not None else "in sample",
    }
    fine_targets, coarse_targets, branch_targets = split_targets(targets, classes, parents, notes)
    unlabeled_proba = None if unlabeled_logits is None or not len(unlabeled_logits) else _apply(
        unlabeled_logits, temperature, platt)
    mix, mix_report = resolve_mix(config.threshold_mix, classes, y_val_idx, w_val, heldout_proba=after,
                                  unlabeled_proba=unlabeled_proba, pool_counts=pool_counts)
    w_mix = mix_weights(y_val_idx, w_val, mix)
    mix_report["effective_rows"] = round(kish_effective(w_mix), 1)
    mix_report["tuning_rows"] = int(len(y_val_idx))
    report["threshold_mix"] = mix_report
    if mix_report["reason"] and mix is None:
        notes.append(f"threshold class mix: {mix_report['reason']}")
    # Every figure below is of the label the served model emits (decide): with a taxonomy the decoded
    # fine label, or the coarse label on fallback, which is no fine label's prediction.
    emitted = emit(after, classes, parents, config.fine_floor)
    thresholds, table = _thresholds(after, y_val_idx, classes, fine_targets, w_mix, fold,
                                    config.threshold_unseen_prior, config.threshold_confidence, emitted.column,
                                    w_val)
    if branch_targets:
        y_branch_idx = np.array([index[parents[v]] if parents[v] in branch_targets else index[v] for v in y_val])
        branch_thresholds, branch_table = _thresholds(after, y_branch_idx, classes, branch_targets, w_mix, fold,
                                                      config.threshold_unseen_prior, config.threshold_confidence,
                                                      emitted.column, w_val)
        for i, row in enumerate(branch_table):  # both tables list the classes in order
            if row["label"] in branch_targets:
                table[i] = {**row, "judged_on": "coarse label"}
                thresholds[row["label"]] = branch_thresholds[row["label"]]
    # a fallback row predicts its coarse label: a miss for its true fine label, a prediction of no
    # fine label (of the class of that name, where items answered at the coarse level make one)
    report["validation"] = classification_report(y_val, emitted.label, after, classes, w_val)
    if parents:
        cp, coarse_classes = coarse_proba(after, classes, parents)
        c_index = {c: i for i, c in enumerate(coarse_classes)}
        y_val_coarse = [parents[v] for v in y_val]
        # a coarse threshold governs only the rows emitted as that coarse label: the fallbacks
        coarse_emitted = np.array([c_index[c] if fb else -1 for c, fb in zip(emitted.coarse_label, emitted.fallback,
                                                                              strict=True)], dtype=int)
        coarse_thresholds, coarse_table = _thresholds(cp, np.array([c_index[v] for v in y_val_coarse]),
                                                      coarse_classes, coarse_targets, w_mix, fold,
                                                      config.threshold_unseen_prior, config.threshold_confidence,
                                                      coarse_emitted, w_val)
        report["hierarchy"] = {
            # every row's emitted label lies in its decoded branch, a fallback's as well
            "coarse_validation": classification_report(y_val_coarse, emitted.coarse_label, cp, coarse_classes, w_val),
            "fine_floor": config.fine_floor,
            "fallback_share": float(np.average(emitted.fallback, weights=w_val)),
            "coarse_thresholds": coarse_table,
        }
        out.coarse_thresholds = coarse_thresholds
    report["thresholds"] = table
    served = emit(after, classes, parents, config.fine_floor, thresholds, out.coarse_thresholds)
    report["review_share"] = (float(np.average(served.needs_review, weights=w_mix)) if w_mix.sum() > 0 else 0.0)
    out.temperature, out.platt, out.thresholds = temperature, platt, thresholds
    out.calibration = calibration
    return out


def split_targets(targets: dict, classes: list[str], parents: dict | None, notes: list[str]
                  ) -> tuple[dict, dict, dict]:
    """The lead's targets by the table that applies them: (fine, coarse, branch).

    - A coarse label's target goes to the coarse table: its threshold governs the predictions
      emitted as that coarse label on fallback (``TrainedClassifier.decide``).
    - A class with the name of a coarse label (items answered only at the coarse level, whose
      class is its own branch) emits that label too, so the same target governs it: in the
      branch targets, judged with every item under that coarse label counted as right (a cash
      ticket labeled "money" is labeled correctly). Only the precision part: a recall of the coarse
      label counts the items its fine labels catch, which the coarse table judges.
    - A label beside the tree (its branch is itself alone, no fine label under it) goes to the fine
      table only: nothing falls back to it, so it has no coarse row.
    - Any other label the model predicts (a class: labeled rows, an Other-bucket member, or a
      label with no labeled row that the label-name prior or a description makes predictable)
      goes to the fine table; with no tuning row of it, a precision target sends every prediction
      of it to review (``learner.thresholds``).
    - A label the model cannot predict (nothing labeled, no prior or description row) is left
      out, with a note: no prediction of it exists for a target to govern."""
    parents = parents or {}
    class_set = set(classes)
    coarse_labels = {parents[c] for c in classes if c in parents}
    fine, coarse, branch, unpredictable = {}, {}, {}, []
    for label, target in targets.items():
        if label in coarse_labels and {c for c in classes if parents.get(c) == label} == {label}:
            # a label beside the tree: its branch is itself alone, so P(it | its branch) is 1 and no
            # prediction ever falls back to it; a coarse row would judge fallbacks that cannot happen
            fine[label] = target
        elif label in coarse_labels:
            coarse[label] = target
            if label in class_set and isinstance(target, dict) and "precision" in target:
                branch[label] = {"precision": target["precision"]}
        elif label in class_set:
            fine[label] = target
        else:
            unpredictable.append(str(label))
    if unpredictable:
        notes.append(f"targets of {sorted(unpredictable)[:10]} not applied: the model cannot predict these labels "
                     "(no labeled items, and no label-name prior or description row)")
    if branch:
        notes.append(f"precision targets of {sorted(branch)[:10]}: the coarse threshold governs fallback predictions, "
                     "and the class of items answered at the coarse level is judged counting every item under "
                     "the coarse label as right")
    return fine, coarse, branch


def _thresholds(proba, y_idx, classes, targets, w, fold, unseen_prior_rows: float, confidence: float, emitted,
                w_labeled):
    """Thresholds and their table, over the rows that emit each label (``emitted``: a column per
    row, -1 for none of ``classes``): cross-fitted when there are folds, each row's held-out
    precision at the tuning mix (``w``) and at the labeled rows' own (``w_labeled``), which the
    per-class table is at; otherwise chosen on every row with "met" left unknown (None), since no
    row is left to judge it on."""
    if fold is not None:
        return cross_fit_thresholds(proba, y_idx, classes, targets, folds=fold, confidence=confidence,
                                    sample_weight=w, unseen_prior_rows=unseen_prior_rows, emitted=emitted,
                                    labeled_weight=w_labeled)
    chosen, table = choose_thresholds_with_confidence(proba, y_idx, classes, targets,
                                                      confidence=confidence, sample_weight=w,
                                                      unseen_prior_rows=unseen_prior_rows, emitted=emitted)
    for row in table:
        row["met"] = None if row["feasible"] is not False else False
        row["met_reason"] = ("no target" if row["target"] is None else
                             f"infeasible: {row['reason']}" if row["feasible"] is False else
                             "too few held-out rows to judge the threshold on rows that did not choose it")
    return chosen, table
