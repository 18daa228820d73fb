"""Logistic regression's penalty ``C`` chosen by evidence on the labels a retrain has.

No single ``C`` suits every project or every stage of one: on the dev fifths of trec's whole pool
a weaker penalty (``C`` 40) scored +0.047 macro-F1 over the default 10, while airline_tweets and
banking77_longtail were best at 10, and the early waves of banking77 siblings preferred a
stronger one (docs/simulation.md, round 16 and the full-pool penalty lead). With
``TrainConfig(penalty="auto")`` and the logistic-regression head, ``choose_penalty`` compares the
configured ``C`` with ``C`` × each of ``penalty_factors`` on the same group-aware, stratified K
folds over the labeled rows (self-training off, as in the label-prior choice; each fold's training
part gets the prior rows it would get). Each arm's held-out predictions are scored by macro-F1 over
the labels present in the held-out rows, pooled over the folds.

The configured ``C`` stays unless the best other arm beats it by more than the noise:
``penalty_min_gain`` and two standard errors of the paired per-fold differences (the maximum of
the two; picking the best of several arms is optimistic, the margin pays for it). With too little
evidence (fewer than ``MIN_ROWS`` rows or fewer than two labels) it stays too.

Everything the choice saw goes into the report: per-arm macro-F1, the per-fold differences of the
best arm, the margin and the reason.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import numpy as np

from learner.training.hierarchy_choice import macro_f1, paired_standard_error
from learner.training.oof import FoldPart, evidence_name, fold_parts, held_out_argmax
from learner.training.prior_choice import prior_rows_for

MIN_ROWS = 20


def arm_name(c: float) -> str:
    return f"C={c:.10g}"


def choose_penalty(config, label_vectors: dict | None, parents, descriptions, X, y, weight, groups,
                   cross_fitted: list[FoldPart] | None = None):
    """(config with ``C`` resolved and ``penalty`` "fixed", report of the evidence); see the module
    docstring. ``config`` has its structure and label prior already resolved. ``cross_fitted``:
    folds with their own embeddings and label vectors instead of folds over ``X``."""
    started = time.perf_counter()
    folds = len(cross_fitted) if cross_fitted is not None else config.cv_folds if config.cv_folds >= 2 else 5
    base = float(config.C)
    candidates = [base] + sorted({base * float(f) for f in config.penalty_factors} - {base})
    report: dict = {"requested": "auto", "configured": base, "folds": folds, "rows_compared": 0, "macro_f1": {},
                    "chosen": base, "margin": None, "fold_differences": [], "reason": "",
                    "evidence": evidence_name(cross_fitted)}
    resolved = replace(config, penalty="fixed")
    counts = Counter(y.tolist())
    if len(y) < MIN_ROWS or len(counts) < 2:
        report["reason"] = (f"too little evidence ({len(y)} labeled rows over {len(counts)} labels; need {MIN_ROWS} "
                            f"over 2 labels): kept C={base:g}")
        report["seconds"] = round(time.perf_counter() - started, 3)
        return resolved, report
    use_prior = bool(label_vectors) and config.label_prior == "on"
    cv_config = replace(resolved, cv_folds=folds, self_training=False)

    def fold_prior(part):
        return (prior_rows_for(part.label_vectors, Counter(y[part.train].tolist()), parents, config)
                if use_prior and part.label_vectors else None)

    parts = held_out_argmax({c: (replace(cv_config, C=c), fold_prior) for c in candidates}, parents, descriptions, y,
                            weight, fold_parts(X, y, groups, folds, config.seed, label_vectors, cross_fitted))
    if not parts:
        report["reason"] = f"no fold could be evaluated: kept C={base:g}"
        report["seconds"] = round(time.perf_counter() - started, 3)
        return resolved, report
    held_rows = [held for held, _ in parts]
    predictions = {c: [pred[c] for _, pred in parts] for c in candidates}
    fold_scores = [{c: macro_f1(y[held], pred[c], weight[held]) for c in candidates}
                   for held, pred in parts if len(set(y[held].tolist())) >= 2]
    rows = np.concatenate(held_rows)
    report["rows_compared"] = int(len(rows))
    score = {c: macro_f1(y[rows], np.concatenate(predictions[c]), weight[rows]) for c in candidates}
    report["macro_f1"] = {arm_name(c): round(v, 4) for c, v in score.items()}
    best = max(candidates[1:], key=score.get) if len(candidates) > 1 else base
    diffs = [s[best] - s[base] for s in fold_scores]
    margin = max(config.penalty_min_gain, 2 * paired_standard_error(diffs))
    chosen = best if best != base and score[best] - score[base] > margin else base
    report["chosen"] = chosen
    report["margin"] = round(margin, 4) if np.isfinite(margin) else None
    report["fold_differences"] = [round(d, 4) for d in diffs]
    scores_text = ", ".join(f"{arm_name(c)} {score[c]:.4f}" for c in candidates)
    report["reason"] = (f"out-of-fold macro-F1 {scores_text}: "
                        + (f"{arm_name(chosen)} beats the configured C={base:g} by more than the noise margin "
                           f"{margin:.3f}" if chosen != base else
                           f"no other C beats the configured C={base:g} by more than {config.penalty_min_gain:g} "
                           "and 2 standard errors over the folds: kept"))
    report["seconds"] = round(time.perf_counter() - started, 3)
    return replace(resolved, C=chosen), report
