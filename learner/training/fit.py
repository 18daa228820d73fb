"""Train a calibrated, thresholded classifier over embeddings: the one entry point the rest of
the app uses (``train_classifier``) and the artifact it returns (``TrainedClassifier``).

Procedure (default, ``held_out="cross_fit"``): fit the head on every labeled row; calibration,
per-label thresholds and the held-out metrics come from ``cv_folds``-fold out-of-fold predictions
over all rows (group-aware folds), so every label's tuning rows are all its rows, none judged by
a model that trained on it (``report["validation_source"] == "cross-validation"``).

With ``held_out="split"`` (the earlier procedure): split the labeled rows into train / validation (group-aware,
stratified; labels with 1-3 examples stay in train), resample the train part only if asked, fit
the head, fit the calibration (temperature, or Platt for two classes) and the per-label
thresholds on validation, then — with ``refit=True`` (default) — refit the same head on train +
validation so the final model uses every label, keeping the validation-fitted temperature and
thresholds. The validation metrics in the report are those of the train-part model. With too
little validation data (fewer than ``min_val_rows`` rows or fewer than two labels there) the head
is trained on everything, and calibration, thresholds and metrics come from ``cv_folds``-fold
out-of-fold predictions instead (``report["validation_source"] == "cross-validation"``); when even
those are too few (< 10 rows), T stays 1, thresholds stay 0 and the report says so.

Django-free: numpy / scikit-learn / torch only.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, replace

import numpy as np

from learner.calibration import matched_temperature
from learner.heads.hierarchy import check_parents
from learner.heads.other_bucket import OTHER
from learner.splits import group_stratified_split
from learner.training.build import embed_descriptions
from learner.training.checks import check_inputs, check_unlabeled
from learner.training.classifier import TrainedClassifier
from learner.training.config import TrainConfig, check_config, prior_possible
from learner.training.evaluate import MIN_EVAL_ROWS, TEMPERATURE_BOUNDS, Calibrated, calibrate_and_evaluate
from learner.training.hierarchy_choice import choose_hierarchy
from learner.training.longtail import longtail_report, other_bucket_choice
from learner.training.oof import FoldPart, aligned_logits, check_cross_fitted, fit_weighted, out_of_fold
from learner.training.penalty_choice import choose_penalty
from learner.training.prior_choice import choose_prior, prior_rows_for
from learner.training.self_training import pseudo_labels

HELD_OUT_NOTE = "calibration, thresholds and metrics from"  # the note naming where they came from


def train_classifier(X, y, *, config: TrainConfig | None = None, groups=None, sample_weight=None,
                     targets: dict | None = None, parents: dict | None = None,
                     label_descriptions: dict | None = None, encoder=None, unlabeled=None,
                     label_vectors: dict | None = None, unlabeled_total: int | None = None,
                     cross_fitted: list[FoldPart] | None = None) -> TrainedClassifier:
    """See the module docstring. ``targets`` maps a label (fine, or coarse with ``parents``) to
    ``{"precision": p}`` or ``{"recall": r}``; ``label_descriptions`` maps a label to its description
    (text, embedded with ``encoder``, or an embedding vector) — labels with no examples then get a
    second-stage centroid. ``sample_weight`` (e.g. importance weights) multiplies the class weights
    in training and weights the validation metrics, calibration and thresholds.

    ``unlabeled`` (embeddings of rows nobody has labeled, e.g. a sample of the pool) turns on
    self-training when ``config.self_training``: the procedure above runs once on the labels, its
    calibrated predictions label the unlabeled rows whose top probability reaches
    ``pseudo_threshold`` (surest first, at most ``pseudo_max_ratio`` × the labeled rows), and the
    procedure runs again with those pseudo-labeled rows added to every fit at ``pseudo_weight``.
    Pseudo-labeled rows are only ever trained on: validation, out-of-fold predictions,
    calibration, thresholds and metrics use real labels only. The served model's pseudo-labels
    come from the first pass, which saw every label; each out-of-fold fit of the second pass
    gets its own, from a model fitted on that fold's training rows (``pseudo_out_of_fold``,
    default), so no held-out label reaches its own prediction. With the first pass's
    pseudo-labels there, the held-out logits were optimistic and the temperature fitted on them
    too low (served models overconfident: docs/estimates.md, "Calibration"). This costs
    ``cv_folds`` extra fits per retrain.

    ``label_vectors`` (label → embedding of its name or description) with ``config.label_prior``
    "on" (and ``label_prior_weight > 0``) adds one such row per label with fewer than
    ``label_prior_below`` labeled rows, at that weight, to every fit (a prior that fades once a label
    has examples; labels nobody labeled yet become predictable, except outside a taxonomy's
    ``parents``). Like pseudo-labels, these rows are only ever trained on. With "auto" (the
    default) the prior is used only when it beats no prior out of fold on these labels by more
    than the noise (``learner.training.prior_choice``; ``report["label_prior_choice"]``).

    ``config.threshold_mix`` names the class mix the per-label thresholds must hold at (the
    tuning rows are weighted to it; ``learner.label_shift``): "labeled" (their own mix), "uniform",
    {label: share}, or "pool": estimated by EM from the model's calibrated probabilities of the
    ``unlabeled`` rows (with self-training off too; without unlabeled rows it falls back to
    "labeled" and says so). With ``unlabeled_total`` (how many unlabeled rows the ``unlabeled``
    sample was drawn from, uniformly) "pool" is the mix of the labeled and unlabeled rows together;
    without it, the unlabeled rows' own mix. ``report["threshold_mix"]`` and ``report["choices"]["threshold_mix"]``
    state the mix used and how it was obtained.

    ``cross_fitted`` (``learner.training.oof.FoldPart``s: per fold, embeddings of every labeled
    row and of the label texts from an encoder that never saw the fold's held-out labels) replaces
    the folds over ``X`` as the evidence of the "auto" choices (structure and floor, prior,
    penalty), for an ``X`` that has learned its own labels (the final model's). Calibration and
    thresholds still come from folds over ``X``; the final model replaces them from the same
    cross-fitted folds (``learner.finetune.held_out``)."""
    config = config or TrainConfig()
    check_config(config)
    requested_prior = config.label_prior
    started = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    X, y, sample_weight = check_inputs(X, y, groups, sample_weight)
    counts = Counter(y.tolist())
    if len(counts) < 2:
        raise ValueError(f"training needs at least 2 different labels, got {sorted(counts) or 'none'} "
                         f"over {len(y)} rows")
    if OTHER in counts:
        raise ValueError(f"a label is named {OTHER!r}, the name reserved for the bucket of tiny labels: rename "
                         "that label, then train again")
    if parents:
        parents = {str(k): str(v) for k, v in parents.items()}
        check_parents(counts, parents)
    targets = dict(targets or {})
    if unlabeled is not None and len(unlabeled):
        check_unlabeled(unlabeled, X.shape[1])
    descriptions = embed_descriptions(label_descriptions, encoder, X.shape[1])
    if label_vectors and prior_possible(config):  # every prior row (choices' folds, served fit) comes from them
        check_label_vectors(label_vectors, X.shape[1])
    weight = np.ones(len(y)) if sample_weight is None else sample_weight
    if cross_fitted is not None:
        check_cross_fitted(cross_fitted, X.shape)
    hierarchy_choice = None
    if config.hierarchy == "auto":
        if parents:
            t = time.perf_counter()
            config, hierarchy_choice = choose_hierarchy(config, parents, descriptions, X, y, weight, groups,
                                                        cross_fitted)
            timings["hierarchy_choice_s"] = time.perf_counter() - t
        else:
            config = replace(config, hierarchy="flat")  # no coarse labels: nothing to choose
    prior_choice = None
    if config.label_prior == "auto":
        use = False
        if label_vectors and prior_possible(config):
            t = time.perf_counter()
            use, prior_choice = choose_prior(config, label_vectors, parents, descriptions, X, y, weight, groups,
                                             cross_fitted)
            timings["label_prior_choice_s"] = time.perf_counter() - t
        config = replace(config, label_prior="on" if use else "off")
    penalty_choice = None
    if config.penalty == "auto":
        if config.head == "logreg":
            t = time.perf_counter()
            config, penalty_choice = choose_penalty(config, label_vectors, parents, descriptions, X, y, weight,
                                                     groups, cross_fitted)
            timings["penalty_choice_s"] = time.perf_counter() - t
        else:
            notes.append(f"penalty not chosen: C applies to the logistic-regression head only (head {config.head})")
            config = replace(config, penalty="fixed")
    prior = label_prior_rows(label_vectors, counts, parents, config)
    extra, self_training, first = prior, None, None
    if unlabeled is not None and config.self_training and len(unlabeled) and config.pseudo_weight > 0:
        t = time.perf_counter()
        first = train_classifier(X, y, config=replace(config, self_training=False, threshold_mix="labeled"),
                                 groups=groups,
                                 sample_weight=sample_weight, targets=targets, parents=parents,
                                 label_descriptions=label_descriptions, encoder=encoder, label_vectors=label_vectors)
        extra, self_training = pseudo_labels(first, unlabeled, config, len(y), X.shape[1])
        extra = join_rows(prior, extra)
        self_training["first_pass_validation"] = (first.report.get("validation") or {}).get("macro_f1")
        timings["first_pass_s"] = time.perf_counter() - t
        if extra is None:
            notes.append(f"self-training: no unlabeled row reached top probability {config.pseudo_threshold}")

    t = time.perf_counter()
    split = group_stratified_split(y, groups, fractions=(1 - config.val_fraction, config.val_fraction, 0.0),
                                   seed=config.seed)
    train_rows = np.flatnonzero(split == "train")
    val_rows = np.flatnonzero(split == "val")
    val_ok = (len(val_rows) >= config.min_val_rows and len(set(y[val_rows])) >= 2
              and weight[val_rows].sum() > 0 and weight[train_rows].sum() > 0)
    if config.held_out == "cross_fit" and config.cv_folds >= 2:  # out of fold over every row (evaluate.py)
        val_ok = False
        train_rows, val_rows = np.arange(len(y)), np.zeros(0, dtype=int)
    elif not val_ok:
        notes.append(f"too little validation data ({len(val_rows)} rows, {len(set(y[val_rows]))} labels; "
                     f"need {config.min_val_rows} rows and 2 labels): trained on all {len(y)} rows")
        train_rows = np.arange(len(y))
        val_rows = np.zeros(0, dtype=int)
    timings["split_s"] = time.perf_counter() - t

    t = time.perf_counter()
    model = fit_weighted(config, parents, descriptions, X, y, train_rows, weight, extra)
    timings["fit_s"] = time.perf_counter() - t

    classes = [str(c) for c in model.classes_]
    index = {c: i for i, c in enumerate(classes)}
    t = time.perf_counter()
    if val_ok:
        source = "validation"
        known = np.array([label in index for label in y[val_rows]])
        if not known.all():
            notes.append(f"{int((~known).sum())} validation rows have labels the train-part model never saw "
                         "(mixed-label groups); left out of calibration and thresholds")
        eval_rows = val_rows[known]
        eval_logits = model.decision_function(X[eval_rows])
    elif config.cv_folds >= 2:
        source = "cross-validation"
        fold_models: list = []
        extra_for = None
        if first is not None and config.pseudo_out_of_fold and extra is not prior:
            def extra_for(train, first=first):
                return join_rows(prior, fold_pseudo_labels(first, config, parents, descriptions, X, y, weight,
                                                           train, prior, unlabeled))
        eval_rows, eval_logits = out_of_fold(config, parents, descriptions, X, y, weight, groups, classes, extra,
                                             extra_for=extra_for, models_out=fold_models)
    else:
        source = None
        eval_rows, eval_logits = np.zeros(0, dtype=int), np.zeros((0, len(classes)))
    timings["out_of_fold_s"] = time.perf_counter() - t if source == "cross-validation" else 0.0
    evaluable = len(eval_rows) >= MIN_EVAL_ROWS and len(set(y[eval_rows])) >= 2 and weight[eval_rows].sum() > 0
    if source == "cross-validation":
        notes.append(f"{HELD_OUT_NOTE} {config.cv_folds}-fold out-of-fold predictions "
                     f"({len(eval_rows)} rows)" if evaluable else
                     f"too few out-of-fold predictions ({len(eval_rows)} rows) to calibrate")
    if not evaluable:
        notes.append("temperature kept at 1, thresholds at 0, metrics not estimated")
        eval_rows = np.zeros(0, dtype=int)

    calibrated = Calibrated()
    if evaluable:
        t = time.perf_counter()
        mix_logits = (model.decision_function(np.asarray(unlabeled, dtype=np.float32))
                      if config.threshold_mix == "pool" and unlabeled is not None and len(unlabeled) else None)
        calibrated = calibrate_and_evaluate(config, eval_logits, y[eval_rows], weight[eval_rows], classes, targets,
                                            parents, notes,
                                            groups=None if groups is None else np.asarray(groups)[eval_rows],
                                            unlabeled_logits=mix_logits,
                                            pool_counts=None if unlabeled_total is None else (len(y), unlabeled_total))
        if config.match_temperature:
            if source == "cross-validation" and calibrated.calibration.get("method") == "temperature":
                match_served_temperature(calibrated, model, fold_models, unlabeled, classes, mix_logits, notes)
            else:
                notes.append("served temperature not matched: matching needs temperature scaling fitted out of fold "
                             f"(here {calibrated.calibration.get('method')}, {source})")
        timings["calibrate_s"] = time.perf_counter() - t
    report: dict = {"validation_source": source if evaluable else None, **calibrated.report}
    if val_ok and config.refit:
        t = time.perf_counter()
        model = fit_weighted(config, parents, descriptions, X, y, np.arange(len(y)), weight, extra)
        timings["refit_s"] = time.perf_counter() - t
    longtail = longtail_report(model, config.other_min_examples)
    timings["total_s"] = time.perf_counter() - started
    report.update({
        "config": asdict(config),
        "n_rows": int(len(y)),
        "n_train": int(len(train_rows)),
        "n_val": int(len(val_rows)),
        "n_evaluated": int(len(eval_rows)),
        "final_model_rows": int(len(y)) if (config.refit or not val_ok) else int(len(train_rows)),
        "class_counts": dict(sorted(counts.items())),
        "not_estimable": sorted(set(counts) - set(y[eval_rows].tolist())),
        "calibration": calibrated.calibration,
        "longtail": longtail,
        "self_training": self_training,
        "hierarchy_choice": hierarchy_choice,
        "label_prior": None if prior is None else {"labels": int(len(prior[1])), "weight": config.label_prior_weight,
                                                   "below": config.label_prior_below},
        "label_prior_choice": prior_choice,
        "penalty_choice": penalty_choice,
        "choices": training_choices(config, hierarchy_choice, model, calibrated.calibration, longtail,
                                    requested_prior, prior_choice, prior, report.get("threshold_mix"),
                                    penalty_choice),
        "timings": timings,
        "notes": notes,
    })
    return TrainedClassifier(model, temperature=calibrated.temperature, platt=calibrated.platt,
                             thresholds=calibrated.thresholds, coarse_thresholds=calibrated.coarse_thresholds,
                             parents=parents, fine_floor=config.fine_floor, report=report)


MIN_MATCH_ROWS = 50


def match_served_temperature(calibrated: Calibrated, model, fold_models: list, unlabeled, classes,
                             served_logits, notes: list[str]) -> None:
    """``match_temperature``: the served model's own temperature, matched on the unlabeled rows to
    the fold models the out-of-fold temperature calibrated (``learner.calibration.matched_temperature``).
    Thresholds, the review share and the held-out metrics were found on the fold models' calibrated
    probabilities, which the matched served model is made to resemble; ``ece_after`` describes the
    fold models, ``temperature_out_of_fold`` their temperature. The pool's class mix for the
    thresholds was estimated before, at the out-of-fold temperature."""
    if unlabeled is None or len(unlabeled) < MIN_MATCH_ROWS:
        notes.append(f"served temperature = the out-of-fold one (no unlabeled sample of {MIN_MATCH_ROWS} rows "
                     "to match it on)")
        return
    if not fold_models:
        notes.append("served temperature = the out-of-fold one (no fold model to match it to)")
        return
    X_u = np.asarray(unlabeled, dtype=np.float32)
    if served_logits is None:
        served_logits = model.decision_function(X_u)
    fold_temperature = calibrated.temperature
    calibrated.temperature = matched_temperature(served_logits, [aligned_logits(m, X_u, classes) for m in fold_models],
                                                 fold_temperature, TEMPERATURE_BOUNDS)
    calibrated.calibration.update(temperature=calibrated.temperature, temperature_out_of_fold=fold_temperature,
                                  matched_on_unlabeled=int(len(X_u)))
    if min(abs(calibrated.temperature - b) / b for b in TEMPERATURE_BOUNDS) < 0.01:
        notes.append(f"matched temperature {calibrated.temperature:.3g} is at its search bound {TEMPERATURE_BOUNDS}")


def fold_pseudo_labels(first: TrainedClassifier, config: TrainConfig, parents, descriptions, X, y, weight,
                       train_rows, prior, unlabeled):
    """Pseudo-labels for one out-of-fold fit (``pseudo_out_of_fold``): made by a model fitted on the
    fold's training rows only (with the first pass's temperature), so no held-out row's label
    reaches its own prediction through the pseudo-labeled rows. With the first pass's
    pseudo-labels instead (a model that saw every label), the held-out logits are optimistic
    and the temperature fitted on them leaves the served model overconfident."""
    model = fit_weighted(config, parents, descriptions, X, y, train_rows, weight, prior)
    fold_first = TrainedClassifier(model, temperature=first.temperature, platt=first.platt, parents=parents,
                                   fine_floor=config.fine_floor)
    rows, _ = pseudo_labels(fold_first, unlabeled, config, len(train_rows), X.shape[1])
    return rows


def training_choices(config: TrainConfig, hierarchy_choice: dict | None, model, calibration: dict,
                     longtail: dict | None, requested_prior: str = "off", prior_choice: dict | None = None,
                     prior=None, threshold_mix: dict | None = None, penalty_choice: dict | None = None) -> dict:
    """The choices a lead sees on the model version: head and loss, structure (and whether the
    evidence or the project chose it), fallback floor, calibration, the Other bucket, the
    label-name prior (and whether the evidence or the project chose it) and the class mix the
    thresholds hold at (setting, the mix used, how it was obtained)."""
    head = {"name": config.head, "weighting": config.weighting}
    if config.head == "torch":
        head.update(loss=config.loss, device=getattr(_base_head(model), "device_used_", None))
    else:
        head["C"] = config.C
        head["C_chosen_by"] = ("out-of-fold evidence" if penalty_choice and penalty_choice.get("rows_compared")
                               else "configuration")
    return {
        "head": head,
        "structure": config.hierarchy if getattr(model, "coarse_head_", None) is not None else "flat",
        "structure_chosen_by": "out-of-fold evidence" if hierarchy_choice else "configuration",
        "fine_floor": config.fine_floor,
        "calibration": calibration.get("method"),
        "other_bucket": other_bucket_choice(config.other_min_examples, longtail),
        "label_prior": {"setting": requested_prior, "used": prior is not None,
                        "rows": 0 if prior is None else int(len(prior[1])),
                        "chosen_by": "out-of-fold evidence" if prior_choice else "configuration"},
        "threshold_mix": None if threshold_mix is None else {
            k: threshold_mix.get(k) for k in ("setting", "used", "source", "reason")},
    }


def _base_head(model):
    """The first plain head inside a composite one (where the torch head records its device)."""
    for attr in ("first_head_", "coarse_head_"):
        inner = getattr(model, attr, None)
        if inner is not None:
            return _base_head(inner)
    return model


def label_prior_rows(label_vectors, counts, parents, config: TrainConfig):
    """(X, y, weight) of the label-name prior rows (see ``train_classifier``; the vectors are checked
    there), or None; only with ``label_prior`` resolved to "on"."""
    if not label_vectors or config.label_prior != "on" or config.label_prior_weight <= 0:
        return None
    return prior_rows_for(label_vectors, counts, parents, config)


def check_label_vectors(label_vectors: dict, width: int) -> None:
    for label, vector in label_vectors.items():
        if np.asarray(vector).size != width:
            raise ValueError(f"label vectors have width {np.asarray(vector).size} (label {label!r}), "
                             f"the embeddings {width}")


def join_rows(a, b):
    """Concatenate two optional (X, y, weight) triples."""
    if a is None or b is None:
        return a if b is None else b
    return np.vstack([a[0], b[0]]), np.concatenate([a[1], b[1]]), np.concatenate([a[2], b[2]])
