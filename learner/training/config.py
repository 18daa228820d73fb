"""Training options: ``TrainConfig`` (every knob of ``train_classifier``, JSON-ready) and its checks."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from learner.heads import HEADS
from learner.label_shift import check_mix_setting

LABEL_PRIOR_MODES = ("auto", "on", "off")


@dataclass
class TrainConfig:
    head: str = "logreg"            # a name in learner.heads.HEADS
    weighting: str = "inverse"      # "none" | "inverse" (w_c = N / (K · n_c): the default, the brief's method;
    #                                 "effective" (Cui et al.) was it in rounds 16-19: docs/simulation.md; Project.class_weights)
    beta: float = 0.999             # effective-number β
    loss: str = "ce"                # torch: "ce" | "focal" | "logit_adjusted"
    C: float = 10.0                 # logreg inverse regularisation
    penalty: str = "fixed"          # "fixed" (C as set) or "auto": C or C × a factor of ``penalty_factors``,
    #                                 whichever wins out of fold beyond the noise, per retrain
    #                                 (learner.training.penalty_choice; logistic-regression heads only)
    penalty_factors: tuple = (0.5, 2.0, 4.0)
    penalty_min_gain: float = 0.005  # "auto": another C must beat the configured one by this much and by 2
    #                                  standard errors over the folds
    calibrate: str = "temperature"  # "temperature" | "platt" | "none"
    match_temperature: bool = False  # temperature: re-fit the served model's on the unlabeled sample to match
    #                                  the calibrated fold models (learner.calibration.matched_temperature)
    other_min_examples: int = 0     # >0: long-tail "Other" bucket + second stage (default off)
    fine_floor: float = 0.75        # hierarchy fallback floor
    hierarchy: str = "auto"         # with parents: "coarse_then_fine" heads, "flat" (one fine head, coarse =
    #                                 sum of its children's probabilities; same fallback rule), "blend" (the
    #                                 mean of the two's probabilities, learner.heads.hierarchy.BlendedHead), or
    #                                 "auto": the blend unless flat or coarse → fine wins out of fold beyond the
    #                                 noise, and the fallback floor with it (learner.training.hierarchy_choice)
    hierarchy_min_gain: float = 0.01  # "auto": flat or coarse → fine replaces the blend only when it beats it out
    #                                   of fold by this much and by 2 standard errors over the folds
    #                                   (learner.training.hierarchy_choice)
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
    held_out: str = "cross_fit"     # where calibration, thresholds and metrics come from: "cross_fit" =
    #                                 cv_folds-fold out-of-fold predictions over every labeled row, the model
    #                                 trained on all of them; "split" = the validation split, then the refit
    cv_folds: int = 5               # too little validation data: calibrate / threshold on out-of-fold
    #                                 predictions of this many folds (0 = keep T = 1, thresholds 0)
    second_stage_scale: float = 20.0
    max_iter: int = 300             # logreg lbfgs iterations
    # self-training (only when train_classifier gets ``unlabeled`` rows): a first model's confident
    # predictions on unlabeled rows join the training part as down-weighted pseudo-labels
    self_training: bool = True
    pseudo_threshold: float = 0.7   # calibrated top probability a row needs to be pseudo-labeled
    pseudo_weight: float = 0.5      # row weight of a pseudo-labeled row (a labeled row has 1)
    pseudo_max_ratio: float = 10.0  # at most this many pseudo-labeled rows per labeled row, surest first
    pseudo_weighting: str = "confidence"  # "flat" (pseudo_weight) or "confidence" (pseudo_weight × top
    #                                       probability). 0.7 / 10 / confidence: docs/simulation.md, round 13
    pseudo_out_of_fold: bool = True  # each out-of-fold fit gets pseudo-labels from a model fitted on its own
    #                                 training rows (not the first pass's, which saw the held-out labels)
    threads: int | None = 1         # BLAS / torch threads while fitting (None = library default)
    # label-name prior (only when train_classifier gets ``label_vectors``): each label with fewer than
    # ``label_prior_below`` labeled rows (none included) gets its name / description embedding as one
    # extra training row of weight ``label_prior_weight`` (never validated on). ``label_prior``: "on",
    # "off", or "auto": on only when it beats no prior out of fold by more than the noise, per retrain
    # (learner.training.prior_choice). Weight 0 = off whatever ``label_prior`` says.
    label_prior: str = "auto"
    label_prior_weight: float = 1.0   # 1.0 / 10: docs/simulation.md, round 14 (was 0.5 / 5)
    label_prior_below: int = 10
    # the class mix per-label thresholds (and their "met" figures) must hold at: "labeled" (the tuning
    # rows' own mix, i.e. the labeled rows as chosen for labeling), "pool" (estimated by EM from the
    # ``unlabeled`` rows train_classifier gets; "labeled" when it gets none), "uniform", or
    # {label: share}. Tuning rows are weighted by mix(y) / tuning mix(y) (learner.label_shift). The
    # default is the product's (Project.threshold_mix), so the simulation trains as the product does.
    threshold_mix: str | dict = "pool"
    # Prior rows per label for confusions its tuning rows may not show (learner.precision_bounds.
    # unseen_confusion): a barely-sampled label's rate into another is shrunk toward the model's
    # mean runner-up probability of that label on its rows. 0 = off, the default, as a project's
    # (Project.threshold_guard on: learner.precision_bounds.GUARD_PRIOR_ROWS). It makes thresholds
    # hold where barely-labeled look-alikes exist, at a large cost in automation (docs/estimates.md).
    threshold_unseen_prior: float = 0.0
    # One-sided confidence with which a chosen threshold's precision must reach its target (the
    # scan over a label's cuts keeps it: learner.precision_bounds.scan_confidence). Higher: fewer
    # labels get a threshold; on the sibling sets it did not make them hold more often (the misses
    # are confusions the tuning rows lack, not chance; docs/estimates.md).
    threshold_confidence: float = 0.95

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainConfig:
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        if "penalty_factors" in data:  # a JSON list
            if not isinstance(data["penalty_factors"], (list, tuple)):
                raise ValueError(f"penalty_factors must be a list of positive numbers, got {data['penalty_factors']!r}")
            data["penalty_factors"] = tuple(data["penalty_factors"])
        return cls(**data)


def check_config(config: TrainConfig) -> None:
    choices = {"head": tuple(HEADS), "weighting": ("none", "inverse", "effective"),
               "loss": ("ce", "focal", "logit_adjusted"), "calibrate": ("temperature", "platt", "none"),
               "resample": ("none", "over", "under"), "hierarchy": ("auto", "coarse_then_fine", "flat", "blend"),
               "coarse_weights": ("coarse", "fine"), "held_out": ("cross_fit", "split"),
               "label_prior": LABEL_PRIOR_MODES, "pseudo_weighting": ("flat", "confidence"),
               "penalty": ("fixed", "auto")}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"training option {name}={getattr(config, name)!r} is not one of {allowed}")
    if not 0.0 <= config.val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {config.val_fraction}")
    if not (positive_number(config.C) and all(positive_number(f) for f in config.penalty_factors)
            and (positive_number(config.penalty_min_gain) or config.penalty_min_gain == 0)):
        raise ValueError(f"C ({config.C}) and penalty_factors ({list(config.penalty_factors)}) must be positive, "
                         f"penalty_min_gain ({config.penalty_min_gain}) non-negative")
    if config.hierarchy_min_gain < 0:
        raise ValueError(f"hierarchy_min_gain must be non-negative, got {config.hierarchy_min_gain}")
    if not 0.0 <= config.fine_floor <= 1.0:
        raise ValueError(f"fine_floor must be in [0, 1], got {config.fine_floor}")
    if not 0.0 < config.pseudo_threshold <= 1.0:
        raise ValueError(f"pseudo_threshold must be in (0, 1], got {config.pseudo_threshold}")
    if not 0.5 <= config.threshold_confidence < 1.0:
        raise ValueError(f"threshold_confidence must be in [0.5, 1), got {config.threshold_confidence}")
    if config.threshold_unseen_prior < 0:
        raise ValueError(f"threshold_unseen_prior must be non-negative, got {config.threshold_unseen_prior}")
    if config.label_prior_weight < 0 or config.label_prior_below < 0:
        raise ValueError("label_prior_weight and label_prior_below must be non-negative")
    if config.label_prior == "on" and (config.label_prior_weight <= 0 or config.label_prior_below <= 0):
        raise ValueError("label_prior='on' needs label_prior_weight > 0 and label_prior_below > 0")
    if config.pseudo_weight < 0 or config.pseudo_max_ratio < 0:
        raise ValueError("pseudo_weight and pseudo_max_ratio must be non-negative")
    check_mix_setting(config.threshold_mix)


# Fields whose default is None but which take a value too (their type when given), and the least
# value of numeric fields beyond "not negative" (check_config has the finer ranges of the rest).
NULLABLE_FIELDS = {"alpha": float, "device": str, "threads": int}
AT_LEAST_ONE = ("epochs", "max_iter", "threads")
ABOVE_ZERO = ("C", "lr")
TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def config_from_options(data: dict | None) -> TrainConfig:
    """A TrainConfig from fields a person typed (``manage.py simulate --train``, JSON), every given
    field checked for its type and range, non-finite numbers refused: ``check_config`` only runs
    inside a retrain, and a mistyped value (``"epochs": "10"``, ``"C": NaN``) would otherwise fail
    deep in the fit. Raises ValueError naming the field."""
    config = TrainConfig.from_dict(data)
    defaults = TrainConfig()
    for name, value in dict(data or {}).items():
        default = getattr(defaults, name)
        kind = NULLABLE_FIELDS.get(name, type(default))
        if value is None and (name in NULLABLE_FIELDS or default is None):
            continue
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if ok and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        elif kind is str and name == "threshold_mix":
            ok = isinstance(value, str | dict)
        elif kind is tuple:  # penalty_factors: from_dict took the list, check_config its numbers
            ok = True
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ValueError(f"{name} must be {TYPE_WORDS.get(kind, kind.__name__)}; got {value!r}")
        if name in ABOVE_ZERO and value <= 0:
            raise ValueError(f"{name} must be above 0; got {value!r}")
        if kind in (int, float) and value < (1 if name in AT_LEAST_ONE else 0):
            raise ValueError(f"{name} must be at least {1 if name in AT_LEAST_ONE else 0}; got {value!r}")
    if config.cv_folds == 1:
        raise ValueError("cv_folds must be 0 (off) or at least 2; got 1")
    if not 0 <= config.beta < 1:
        raise ValueError(f"beta must be in [0, 1); got {config.beta}")
    check_config(config)
    return config


def positive_number(value) -> bool:
    """A finite real number above 0 (numpy scalars included; True and False are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def needs_unlabeled(config: TrainConfig) -> bool:
    """Whether a retrain with this config reads an unlabeled sample (so the caller should draw one
    and pass ``unlabeled``): for self-training, for the pool's class mix of the thresholds, and to
    match the served temperature."""
    return config.self_training or config.threshold_mix == "pool" or config.match_temperature


def prior_possible(config: TrainConfig) -> bool:
    """Whether a retrain with this config may add label-name prior rows (so the caller should pass
    ``label_vectors``): "on" or "auto" with a positive weight and count."""
    return config.label_prior != "off" and config.label_prior_weight > 0 and config.label_prior_below > 0


def head_options(config: TrainConfig) -> dict:
    return {k: getattr(config, k) for k in ("weighting", "beta", "loss", "C", "hidden", "gamma", "alpha", "tau",
                                             "epochs", "lr", "weight_decay", "device", "max_iter", "threads")} | {
        "seed": config.seed}
