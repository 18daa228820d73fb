"""Train a calibrated, thresholded classifier over embeddings: the one entry point the rest of
the app uses (``train_classifier``) and the artifact it returns (``TrainedClassifier``).

Procedure (documented choice): split the labeled rows into train / validation (group-aware,
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

import pickle
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace

import numpy as np

from learner.calibration import apply_platt, fit_platt, fit_temperature, softmax
from learner.heads import make_head
from learner.hierarchy import HierarchicalHead, check_parents, coarse_proba, decode
from learner.longtail import OTHER, OtherBucketHead
from learner.metrics import classification_report, expected_calibration_error
from learner.splits import group_kfold, group_stratified_split
from learner.thresholds import choose_thresholds, needs_review
from learner.weighting import resample

ARTIFACT_MAGIC = b"LONGTAIL-CLASSIFIER\x00v1\x00"
MIN_EVAL_ROWS = 10  # fewer held-out predictions than this: no calibration, thresholds or metrics
TEMPERATURE_BOUNDS = (0.1, 10.0)  # benchmark temperatures: 0.25-1.25 (docs/learner_bench.md)


@dataclass
class TrainConfig:
    head: str = "logreg"            # "logreg" | "torch"
    weighting: str = "inverse"      # "none" | "inverse" | "effective"
    beta: float = 0.999             # effective-number β
    loss: str = "ce"                # torch: "ce" | "focal" | "logit_adjusted"
    C: float = 10.0                 # logreg inverse regularisation
    calibrate: str = "temperature"  # "temperature" | "platt" | "none"
    other_min_examples: int = 0     # >0: long-tail "Other" bucket + second stage (default off)
    fine_floor: float = 0.75        # hierarchy fallback floor
    hierarchy: str = "coarse_then_fine"  # with parents: "coarse_then_fine" heads, or "flat" (one fine head,
    #                                      coarse = sum of its children's probabilities; same fallback rule)
    coarse_weights: str = "coarse"  # coarse head's row weights: "coarse" (class weights of the coarse labels)
    #                                 or "fine" (each row keeps its fine label's class weight)
    val_fraction: float = 0.2
    seed: int = 0
    # torch head
    hidden: int = 0                 # 0 = linear; >0 = one hidden ReLU layer of this width
    gamma: float = 2.0              # focal γ
    alpha: float | None = None      # focal α; None = the class weights of `weighting`
    tau: float = 1.0                # logit adjustment τ
    epochs: int = 200
    lr: float = 0.03
    weight_decay: float = 1e-4
    device: str | None = None       # None = cuda when available, else cpu
    # data handling
    resample: str = "none"          # "none" | "over" | "under" (train part only)
    refit: bool = True              # refit on train + validation after calibration / thresholds
    min_val_rows: int = 20
    cv_folds: int = 5               # too little validation data: calibrate / threshold on out-of-fold
    #                                 predictions of this many folds (0 = keep T = 1, thresholds 0)
    second_stage_scale: float = 20.0
    max_iter: int = 300             # logreg lbfgs iterations
    # self-training (only when train_classifier gets ``unlabeled`` rows): a first model's confident
    # predictions on unlabeled rows join the training part as down-weighted pseudo-labels
    self_training: bool = True
    pseudo_threshold: float = 0.9   # calibrated top probability a row needs to be pseudo-labeled
    pseudo_weight: float = 0.5      # row weight of a pseudo-labeled row (a labeled row has 1)
    pseudo_max_ratio: float = 5.0   # at most this many pseudo-labeled rows per labeled row, surest first
    threads: int | None = 1         # BLAS / torch threads while fitting (None = library default)

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainConfig:
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


def _check_config(config: TrainConfig) -> None:
    choices = {"head": ("logreg", "torch"), "weighting": ("none", "inverse", "effective"),
               "loss": ("ce", "focal", "logit_adjusted"), "calibrate": ("temperature", "platt", "none"),
               "resample": ("none", "over", "under"), "hierarchy": ("coarse_then_fine", "flat"),
               "coarse_weights": ("coarse", "fine")}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"training option {name}={getattr(config, name)!r} is not one of {allowed}")
    if not 0.0 <= config.val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {config.val_fraction}")
    if not 0.0 <= config.fine_floor <= 1.0:
        raise ValueError(f"fine_floor must be in [0, 1], got {config.fine_floor}")
    if not 0.0 < config.pseudo_threshold <= 1.0:
        raise ValueError(f"pseudo_threshold must be in (0, 1], got {config.pseudo_threshold}")
    if config.pseudo_weight < 0 or config.pseudo_max_ratio < 0:
        raise ValueError("pseudo_weight and pseudo_max_ratio must be non-negative")


def _head_options(config: TrainConfig) -> dict:
    return {k: getattr(config, k) for k in ("weighting", "beta", "loss", "C", "hidden", "gamma", "alpha", "tau",
                                             "epochs", "lr", "weight_decay", "device", "max_iter", "threads")} | {
        "seed": config.seed}


class _BaseFactory:
    """Picklable factory of fresh heads for one config (composite heads keep their factory)."""

    def __init__(self, config: TrainConfig):
        self.head = config.head
        self.options = _head_options(config)

    def __call__(self):
        return make_head(self.head, **self.options)


class _LeafFactory:
    """A base head, wrapped in the long-tail bucket when asked or when description-only labels
    exist; ``labels`` limits the descriptions to one branch of a hierarchy."""

    def __init__(self, config: TrainConfig, descriptions: dict | None, parents: dict | None = None):
        self.base = _BaseFactory(config)
        self.min_examples = config.other_min_examples
        self.scale = config.second_stage_scale
        self.descriptions = descriptions or {}
        self.parents = parents

    def __call__(self, coarse_label=None):
        wanted = {k: v for k, v in self.descriptions.items()
                  if coarse_label is None or (self.parents or {}).get(k) == coarse_label}
        if self.min_examples > 0 or wanted:
            return OtherBucketHead(self.base, min_examples=self.min_examples, descriptions=wanted, scale=self.scale)
        return self.base()


def build_model(config: TrainConfig, parents: dict | None = None, descriptions: dict | None = None):
    """The (unfitted) estimator a config describes: a flat head, wrapped in the long-tail
    bucket when asked (or when description-only labels exist), inside a coarse → fine hierarchy
    when ``parents`` is given."""
    if parents and config.hierarchy == "coarse_then_fine":
        return HierarchicalHead(parents, coarse_factory=_BaseFactory(config),
                                fine_factory=_LeafFactory(config, descriptions, parents),
                                fine_weighted_coarse=config.coarse_weights == "fine")
    return _LeafFactory(config, descriptions)()


def _embed_descriptions(label_descriptions, encoder, dim: int) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    texts = {}
    for label, value in (label_descriptions or {}).items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str):
            texts[str(label)] = value
        else:
            vec = np.asarray(value, dtype=np.float32).ravel()
            if vec.shape != (dim,):
                raise ValueError(f"description vector for label {label!r} has shape {vec.shape}, expected ({dim},)")
            vectors[str(label)] = vec
    if texts:
        if encoder is None:
            raise ValueError("label_descriptions holds text; pass encoder= (an Encoder) or embedding vectors instead")
        encoded = encoder.encode(list(texts.values()))
        vectors.update(dict(zip(texts, encoded, strict=True)))
    return vectors


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
        if not self.parents:
            top = proba.argmax(axis=1)
            top_p = proba[np.arange(len(proba)), top]
            return [{"label": self.classes_[i], "coarse_label": None, "prob": float(p),
                     "needs_review": bool(p < self.thresholds[self.classes_[i]]), "fallback": False}
                    for i, p in zip(top, top_p, strict=True)]
        fine, fine_p, conditional, coarse, coarse_p, fallback = decode(proba, self.classes_, self.parents,
                                                                        self.fine_floor)
        out = []
        for f, fp, cond, c, cp, fb in zip(fine, fine_p, conditional, coarse, coarse_p, fallback, strict=True):
            if fb:
                out.append({"label": str(c), "coarse_label": str(c), "prob": float(cp),
                            "needs_review": bool(cp < self.coarse_thresholds.get(str(c), 0.0)), "fallback": True,
                            "fine_label": str(f), "fine_prob": float(fp), "fine_conditional": float(cond)})
            else:
                out.append({"label": str(f), "coarse_label": str(c), "prob": float(fp),
                            "needs_review": bool(fp < self.thresholds[str(f)]), "fallback": False,
                            "fine_label": str(f), "fine_prob": float(fp), "fine_conditional": float(cond)})
        return out

    def to_bytes(self) -> bytes:
        return ARTIFACT_MAGIC + pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedClassifier:
        """Only for artifacts this app wrote itself (pickle executes code: never load foreign bytes)."""
        if not bytes(data[: len(ARTIFACT_MAGIC)]) == ARTIFACT_MAGIC:
            raise ValueError("not a Longtail classifier artifact (bad header)")
        obj = pickle.loads(bytes(data[len(ARTIFACT_MAGIC):]))
        if not isinstance(obj, cls):
            raise ValueError(f"artifact holds a {type(obj).__name__}, not a TrainedClassifier")
        return obj


def first_nonfinite_row(X: np.ndarray) -> int | None:
    """Index of the first row of a 2-d array holding NaN or an infinity, or None."""
    finite = np.isfinite(X).all(axis=1)
    return None if finite.all() else int(np.flatnonzero(~finite)[0])


def _check_inputs(X, y, groups, sample_weight):
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array (rows × embedding dimension), got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    bad = first_nonfinite_row(X)
    if bad is not None:
        raise ValueError(f"X row {bad} holds NaN or infinite values")
    labels = []
    for i, v in enumerate(y):
        if v is None or str(v).strip() == "":
            raise ValueError(f"y row {i} has an empty label")
        labels.append(str(v))
    y = np.array(labels, dtype=object).astype(str) if labels else np.zeros(0, dtype=str)
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries but y has {len(y)}")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (len(y),) or (sample_weight < 0).any() or not np.isfinite(sample_weight).all():
            raise ValueError(f"sample_weight must be {len(y)} finite non-negative numbers")
    return X, y, sample_weight


def train_classifier(X, y, *, config: TrainConfig | None = None, groups=None, sample_weight=None,
                     targets: dict | None = None, parents: dict | None = None,
                     label_descriptions: dict | None = None, encoder=None, unlabeled=None) -> TrainedClassifier:
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
    calibration, thresholds and metrics use real labels only. (The pseudo-labels come from a model
    that saw every label, held-out ones included, so the second pass's held-out estimates lean
    slightly optimistic.)"""
    config = config or TrainConfig()
    _check_config(config)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    X, y, sample_weight = _check_inputs(X, y, groups, sample_weight)
    extra, self_training = None, None
    if unlabeled is not None and config.self_training and len(unlabeled) and config.pseudo_weight > 0:
        t = time.perf_counter()
        first = train_classifier(X, y, config=replace(config, self_training=False), groups=groups,
                                 sample_weight=sample_weight, targets=targets, parents=parents,
                                 label_descriptions=label_descriptions, encoder=encoder)
        extra, self_training = _pseudo_labels(first, unlabeled, config, len(y), X.shape[1])
        self_training["first_pass_validation"] = (first.report.get("validation") or {}).get("macro_f1")
        timings["first_pass_s"] = time.perf_counter() - t
        if extra is None:
            notes.append(f"self-training: no unlabeled row reached top probability {config.pseudo_threshold}")
    counts = Counter(y.tolist())
    if len(counts) < 2:
        raise ValueError(f"training needs at least 2 different labels, got {sorted(counts) or 'none'} "
                         f"over {len(y)} rows")
    if OTHER in counts:
        raise ValueError(f"{OTHER!r} is reserved for the long-tail bucket and cannot be a label")
    if parents:
        parents = {str(k): str(v) for k, v in parents.items()}
        check_parents(counts, parents)
    targets = dict(targets or {})
    descriptions = _embed_descriptions(label_descriptions, encoder, X.shape[1])
    weight = np.ones(len(y)) if sample_weight is None else sample_weight

    t = time.perf_counter()
    split = group_stratified_split(y, groups, fractions=(1 - config.val_fraction, config.val_fraction, 0.0),
                                   seed=config.seed)
    train_rows = np.flatnonzero(split == "train")
    val_rows = np.flatnonzero(split == "val")
    val_ok = (len(val_rows) >= config.min_val_rows and len(set(y[val_rows])) >= 2
              and weight[val_rows].sum() > 0 and weight[train_rows].sum() > 0)
    if not val_ok:
        notes.append(f"too little validation data ({len(val_rows)} rows, {len(set(y[val_rows]))} labels; "
                     f"need {config.min_val_rows} rows and 2 labels): trained on all {len(y)} rows")
        train_rows = np.arange(len(y))
        val_rows = np.zeros(0, dtype=int)
    timings["split_s"] = time.perf_counter() - t

    t = time.perf_counter()
    model = _fit_weighted(config, parents, descriptions, X, y, train_rows, weight, extra)
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
        eval_rows, eval_logits = _out_of_fold(config, parents, descriptions, X, y, weight, groups, classes, extra)
    else:
        source = None
        eval_rows, eval_logits = np.zeros(0, dtype=int), np.zeros((0, len(classes)))
    timings["out_of_fold_s"] = time.perf_counter() - t if source == "cross-validation" else 0.0
    evaluable = len(eval_rows) >= MIN_EVAL_ROWS and len(set(y[eval_rows])) >= 2 and weight[eval_rows].sum() > 0
    if source == "cross-validation":
        notes.append(f"calibration, thresholds and metrics from {config.cv_folds}-fold out-of-fold predictions "
                     f"({len(eval_rows)} rows)" if evaluable else
                     f"too few out-of-fold predictions ({len(eval_rows)} rows) to calibrate")
    if not evaluable:
        notes.append("temperature kept at 1, thresholds at 0, metrics not estimated")
        eval_rows = np.zeros(0, dtype=int)

    temperature, platt = 1.0, None
    thresholds: dict[str, float] = {}
    coarse_thresholds: dict[str, float] = {}
    report: dict = {"validation_source": source if evaluable else None}
    calibration = {"method": "none", "temperature": 1.0, "platt": None, "ece_before": None, "ece_after": None}
    if evaluable:
        t = time.perf_counter()
        y_val = y[eval_rows]
        y_val_idx = np.array([index[v] for v in y_val], dtype=int)
        w_val = weight[eval_rows]
        logits = eval_logits
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
                             f"too little held-out evidence ({len(eval_rows)} rows) to pin it down")
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
        report["thresholds"] = table
        report["review_share"] = float(np.average(needs_review(after, classes, thresholds), weights=w_val))
        timings["calibrate_s"] = time.perf_counter() - t
    if val_ok and config.refit:
        t = time.perf_counter()
        model = _fit_weighted(config, parents, descriptions, X, y, np.arange(len(y)), weight, extra)
        timings["refit_s"] = time.perf_counter() - t
    longtail = None
    if isinstance(model, OtherBucketHead):
        longtail = {"min_examples": config.other_min_examples, "other_labels": model.rare_labels_,
                    "description_only_labels": model.description_labels_}
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
        "calibration": calibration,
        "longtail": longtail,
        "self_training": self_training,
        "timings": timings,
        "notes": notes,
    })
    return TrainedClassifier(model, temperature=temperature, platt=platt, thresholds=thresholds,
                             coarse_thresholds=coarse_thresholds, parents=parents, fine_floor=config.fine_floor,
                             report=report)


def _pseudo_labels(first: TrainedClassifier, unlabeled, config: TrainConfig, n_labeled: int, width: int):
    """(X, y, weight) of the unlabeled rows ``first`` labels with calibrated top probability at
    least ``pseudo_threshold``, surest first, capped at ``pseudo_max_ratio`` × ``n_labeled``; and a
    report. (None, report) when no row qualifies."""
    U = np.asarray(unlabeled, dtype=np.float32)
    if U.ndim != 2 or U.shape[1] != width:
        raise ValueError(f"unlabeled must be a 2-d array of width {width} like X, got shape {U.shape}")
    bad = first_nonfinite_row(U)
    if bad is not None:
        raise ValueError(f"unlabeled row {bad} holds NaN or infinite values")
    proba = first.predict_proba(U)
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(U)), top]
    chosen = np.flatnonzero(confidence >= config.pseudo_threshold)
    cap = int(config.pseudo_max_ratio * n_labeled)
    if len(chosen) > cap:
        chosen = chosen[np.argsort(-confidence[chosen], kind="stable")[:cap]]
    classes = np.array(first.classes_, dtype=object)
    labels = classes[top[chosen]].astype(str)
    report = {"unlabeled": int(len(U)), "pseudo_rows": int(len(chosen)), "threshold": config.pseudo_threshold,
              "weight": config.pseudo_weight, "max_ratio": config.pseudo_max_ratio,
              "per_label": dict(sorted(Counter(labels.tolist()).items()))}
    if len(chosen) == 0:
        return None, report
    return (U[chosen], labels, np.full(len(chosen), config.pseudo_weight)), report


def _out_of_fold(config, parents, descriptions, X, y, weight, groups, classes, extra=None):
    """Held-out logits (columns = ``classes``) from ``config.cv_folds`` group-aware folds; rows
    whose label is missing from their fold's training part are left out."""
    fold = group_kfold(y, groups, config.cv_folds, seed=config.seed)
    index = {c: i for i, c in enumerate(classes)}
    rows_out, logits_out = [], []
    for f in range(config.cv_folds):
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        if len(held) == 0 or len(set(y[train])) < 2 or weight[train].sum() <= 0:
            continue
        model = _fit_weighted(config, parents, descriptions, X, y, train, weight, extra)
        fold_classes = [str(c) for c in model.classes_]
        keep = held[np.isin(y[held], fold_classes)]
        if len(keep) == 0:
            continue
        full = np.full((len(keep), len(classes)), -1e4)
        full[:, [index[c] for c in fold_classes]] = model.decision_function(X[keep])
        rows_out.append(keep)
        logits_out.append(full)
    if not rows_out:
        return np.zeros(0, dtype=int), np.zeros((0, len(classes)))
    rows = np.concatenate(rows_out)
    logits = np.vstack(logits_out)
    order = np.argsort(rows)
    return rows[order], logits[order]


def _fit_weighted(config, parents, descriptions, X, y, rows, weight, extra=None):
    """Fit on ``rows`` after resampling them (train part only), carrying the caller's row weights;
    ``extra`` (X, y, weight) pseudo-labeled rows are appended as they are (never resampled)."""
    local = np.unique(y[rows], return_inverse=True)[1]
    idx, w = resample(local, config.resample, seed=config.seed)
    chosen = rows[idx]
    X_fit, y_fit, w_fit = X[chosen], y[chosen], w * weight[chosen]
    if extra is not None:
        X_fit = np.vstack([X_fit, extra[0]])
        y_fit = np.concatenate([y_fit, extra[1]])
        w_fit = np.concatenate([w_fit, extra[2]])
    model = build_model(config, parents, descriptions)
    model.fit(X_fit, y_fit, sample_weight=w_fit)
    return model
