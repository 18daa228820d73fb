"""The label-name prior switched on or off by evidence on the labels a retrain has.

With ``TrainConfig(label_prior="auto")`` and label vectors, ``choose_prior`` compares two arms on
the same group-aware, stratified K folds over the labeled rows: the head fitted on a fold's
training part alone, and the same head with the prior rows that training part would get (one row
per label with fewer than ``label_prior_below`` rows in it, at ``label_prior_weight``). Prior rows
are only ever trained on: every held-out row is a real label. Each arm predicts the held-out rows
over the union of both arms' labels (a label the no-prior arm never saw in that fold simply cannot
be predicted by it, which is the case the prior is for), and the arms are scored by macro-F1 over
the labels present in the held-out rows, pooled over all folds.

The prior is switched on only when it wins by more than the noise: ``MIN_GAIN`` plus two standard
errors of the paired per-fold differences. Otherwise, and with too little evidence (fewer than
``MIN_ROWS`` rows or fewer than two labels), it stays off: on trec and airline_tweets the prior
cost a little on average (docs/simulation.md), on banking77_longtail it gained.

Everything the choice saw goes into the report: per-arm macro-F1, the per-fold differences, the
margin, the rows compared and how many prior rows the full fit would get.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import numpy as np

from learner.training.hierarchy_choice import macro_f1, paired_standard_error
from learner.training.oof import FoldPart, evidence_name, fold_parts, held_out_argmax

MIN_ROWS = 20
MIN_GAIN = 0.01  # the prior must beat no prior by this much plus 2 standard errors over the folds
FALLBACK = False  # too little evidence: off


def prior_rows_for(label_vectors: dict, counts: Counter, parents: dict | None, config):
    """(X, y, weight) of the prior rows for labeled-row counts ``counts``, or None (the rule of
    ``learner.training.fit.label_prior_rows``)."""
    labels = [str(k) for k in label_vectors
              if counts.get(str(k), 0) < config.label_prior_below and (not parents or str(k) in parents)]
    if not labels or config.label_prior_weight <= 0:
        return None
    X = np.array([np.asarray(label_vectors[k], dtype=np.float32).ravel() for k in labels])
    return X, np.array(labels), np.full(len(labels), config.label_prior_weight)


def choose_prior(config, label_vectors: dict, parents, descriptions, X, y, weight, groups,
                 cross_fitted: list[FoldPart] | None = None):
    """(use the prior?, report of the evidence); see the module docstring. ``config`` has its
    structure already resolved (the hierarchy choice runs first). ``cross_fitted``: folds with
    their own embeddings and label vectors instead of folds over ``X`` (``learner.training.oof``)."""
    started = time.perf_counter()
    folds = len(cross_fitted) if cross_fitted is not None else config.cv_folds if config.cv_folds >= 2 else 5
    report: dict = {"requested": "auto", "folds": folds, "rows_compared": 0, "macro_f1": {}, "chosen": "off",
                    "margin": None, "fold_differences": [], "reason": "", "evidence": evidence_name(cross_fitted)}
    counts = Counter(y.tolist())
    full_prior = prior_rows_for(label_vectors, counts, parents, config)
    report["prior_rows"] = 0 if full_prior is None else int(len(full_prior[1]))
    if full_prior is None:
        report["reason"] = f"no label has fewer than {config.label_prior_below} labeled rows: nothing to add"
        report["seconds"] = round(time.perf_counter() - started, 3)
        return FALLBACK, report
    if len(y) < MIN_ROWS or len(counts) < 2:
        report["reason"] = (f"too little evidence ({len(y)} labeled rows over {len(counts)} labels; need {MIN_ROWS} "
                            "over 2 labels): prior off")
        report["seconds"] = round(time.perf_counter() - started, 3)
        return FALLBACK, report
    cv_config = replace(config, cv_folds=folds, self_training=False)

    def fold_prior(part):
        return (None if not part.label_vectors else
                prior_rows_for(part.label_vectors, Counter(y[part.train].tolist()), parents, config))

    parts = held_out_argmax({"off": (cv_config, None), "on": (cv_config, fold_prior)}, parents, descriptions, y,
                            weight, fold_parts(X, y, groups, folds, config.seed, label_vectors, cross_fitted))
    diffs = [macro_f1(y[held], pred["on"], weight[held]) - macro_f1(y[held], pred["off"], weight[held])
             for held, pred in parts if len(set(y[held].tolist())) >= 2]
    if not parts:
        report["reason"] = "no fold could be evaluated: prior off"
        report["seconds"] = round(time.perf_counter() - started, 3)
        return FALLBACK, report
    held_rows = [held for held, _ in parts]
    predictions = {arm: [pred[arm] for _, pred in parts] for arm in ("off", "on")}
    rows = np.concatenate(held_rows)
    report["rows_compared"] = int(len(rows))
    score = {arm: macro_f1(y[rows], np.concatenate(predictions[arm]), weight[rows]) for arm in ("off", "on")}
    report["macro_f1"] = {arm: round(v, 4) for arm, v in score.items()}
    # A label with one or two rows is often missing from a fold's training part, where only the
    # prior can predict it; the served model has its rows. The gain over the labels each fold had
    # rows for leaves those out (reported, not chosen on; docs/simulation.md, "What the prior's
    # evidence counts").
    seen = np.concatenate([np.isin(y[held], np.delete(y, held)) for held in held_rows])
    report["rows_unseen_in_fold"] = int((~seen).sum())
    if seen.any():
        report["macro_f1_seen_in_fold"] = {
            arm: round(macro_f1(y[rows][seen], np.concatenate(predictions[arm])[seen], weight[rows][seen]), 4)
            for arm in ("off", "on")}
    margin = MIN_GAIN + 2 * paired_standard_error(diffs)
    use = bool(score["on"] - score["off"] > margin)
    report["chosen"] = "on" if use else "off"
    report["margin"] = round(margin, 4) if np.isfinite(margin) else None
    report["fold_differences"] = [round(d, 4) for d in diffs]
    report["reason"] = (f"out-of-fold macro-F1 with the prior {score['on']:.4f} vs without {score['off']:.4f}: "
                        + (f"the prior wins by more than the noise margin {margin:.3f}" if use else
                           f"the prior does not win by more than {MIN_GAIN} plus 2 standard errors over the folds"
                           + (f" ({margin:.3f})" if np.isfinite(margin) else "") + ": prior off"))
    report["seconds"] = round(time.perf_counter() - started, 3)
    return use, report
