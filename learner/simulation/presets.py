"""Simulation presets (``--strategy``): which planner configuration each wave uses.

- ``default``: the product's: first wave a cold start (label-name neighbours, rules, diversity,
  random slice), later waves the project's default mix plus the random slice, built by the same
  ``PlannerConfig.from_settings`` as a project's waves;
- ``random``: every wave drawn uniformly at random (first wave too);
- ``margin``: random first wave, then smallest top-2 margin;
- ``band``: random first wave, then uniform picks inside the top-probability band 0.30-0.70.
The three baselines use a random first wave, as the reference numbers in the issue did. These are
presets of the simulation, not strategies: the strategies are ``learner.planning.strategies``.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from learner.planning import DEFAULT_COLD_START_MIX, DEFAULT_MIX, PlannerConfig

PRESETS = ("default", "random", "margin", "band")
SIM_DEFAULT_MIX = dict(DEFAULT_MIX)
SIM_COLD_START_MIX = dict(DEFAULT_COLD_START_MIX)


@dataclass
class SimConfig:
    strategy: str = "default"
    budget: int = 1000
    wave_size: int = 100
    seed: int = 0
    rare_threshold: int = 500
    random_share: float = 0.10
    label_cap_share: float = 0.25
    strategy_mix: dict = field(default_factory=lambda: dict(SIM_DEFAULT_MIX))
    cold_start_mix: dict = field(default_factory=lambda: dict(SIM_COLD_START_MIX))
    test_fraction: float = 0.2
    # > 0: hold out this stratified share of the pool (by seed) as a dev set, never selectable, and
    # evaluate on it instead of the test split (for tuning without looking at test).
    dev_fraction: float = 0.0
    train_options: dict = field(default_factory=dict)  # extra TrainConfig fields
    use_hierarchy: bool = True
    planner_options: dict = field(default_factory=dict)  # extra PlannerConfig fields for "default"
    source_quotas: dict | None = None  # share of each wave per source, as a project's quotas
    band: tuple[float, float] = (0.30, 0.70)  # the project's uncertainty band
    targets: dict | None = None  # label -> {"precision": p} / {"recall": r}, as a project's targets
    self_training_rows: int = 20_000  # the product's LONGTAIL_SELF_TRAINING_ROWS
    # FinetuneConfig fields: after the last wave, train the final model (fine-tuned encoder) as the
    # product does and score it (learner.simulation.final_model); None: no final-model step.
    finetune_options: dict | None = None


def planner_config(sim: SimConfig, *, first_wave: bool, wave_size: int) -> PlannerConfig:
    """The planner configuration of one simulated wave."""
    base = dict(wave_size=wave_size, rare_threshold=sim.rare_threshold, label_cap_share=sim.label_cap_share,
                band=sim.band)
    if sim.strategy == "random" or (first_wave and sim.strategy != "default"):
        return PlannerConfig(strategy_mix={}, cold_start_mix={}, random_share=1.0, **base)
    if sim.strategy == "margin":
        return PlannerConfig(strategy_mix={"uncertainty": 1.0}, random_share=0.0, uncertainty="margin", **base)
    if sim.strategy == "band":
        return PlannerConfig(strategy_mix={"band": 1.0}, random_share=0.0, **base)
    if sim.strategy == "default":
        # The extra fields (``--planner``) override the preset's own: label_cap_share, band and
        # source_quotas are both a project setting the preset passes and an extra field.
        settings = {**base, "strategy_mix": sim.strategy_mix, "random_share": sim.random_share,
                    "source_quotas": sim.source_quotas, "cold_start_mix": sim.cold_start_mix}
        return PlannerConfig.from_settings(**{**settings, **sim.planner_options})
    raise ValueError(f"unknown preset {sim.strategy!r}; choose one of {', '.join(PRESETS)}")


# The PlannerConfig fields ``SimConfig.planner_options`` may set (the rest are the simulation's own
# settings: wave size, mixes, random share, rare threshold), with what each takes.
CHOICES = {"uncertainty": ("margin", "cluster_margin", "band"), "diversity_focus": ("uncertain", "all"),
           "rare_allocation": ("stride", "round_robin"), "rare_rank": ("probability", "variance")}
SHARES = ("label_cap_share", "rare_shift_share")
COUNTS = {"wave_number": 0, "diversity_sample": 1, "rare_max_queries": 1, "rare_unseen_depth": 0,
          "rare_shift_after": 0, "rare_knn_below": 0}
OPTIONAL = ("rare_shift_after", "rare_knn_below", "source_quotas")
PLANNER_OPTIONS = (*CHOICES, *SHARES, *COUNTS, "band", "source_quotas")


def share(value) -> bool:
    """A finite real number within [0, 1] (True and False are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) \
        and 0 <= value <= 1


def planner_options_problem(options) -> str | None:
    """Why ``options`` cannot be ``SimConfig.planner_options`` (unknown field, wrong type, out of
    range, NaN), naming the field, or None. PlannerConfig checks nothing itself, and a bad value
    would only fail inside the first simulated wave, after the embedding."""
    if not isinstance(options, dict):
        return f"expected an object with fields among {sorted(PLANNER_OPTIONS)}"
    unknown = sorted(set(options) - set(PLANNER_OPTIONS))
    if unknown:
        return f"unknown field(s) {unknown}; known: {sorted(PLANNER_OPTIONS)}"
    for name, value in options.items():
        if value is None and name in OPTIONAL:
            continue
        if name in CHOICES and value not in CHOICES[name]:
            return f"field '{name}' must be one of {', '.join(CHOICES[name])}; got {value!r}"
        if name in SHARES and not (share(value) and (value > 0 or name != "label_cap_share")):
            low = "(0" if name == "label_cap_share" else "[0"  # a cap of 0 leaves no label any item
            return f"field '{name}' must be a number in {low}, 1]; got {value!r}"
        if name in COUNTS and not (isinstance(value, int) and not isinstance(value, bool) and value >= COUNTS[name]):
            return f"field '{name}' must be a whole number of at least {COUNTS[name]}; got {value!r}"
        if name == "band" and not (isinstance(value, list | tuple) and len(value) == 2 and all(map(share, value))
                                   and value[0] < value[1]):
            return f"field 'band' must be [low, high] with 0 <= low < high <= 1; got {value!r}"
        if name == "source_quotas" and not (isinstance(value, dict) and all(map(share, value.values()))
                                            and sum(value.values()) <= 1 + 1e-9):
            return (f"field 'source_quotas' must be an object of source shares within [0, 1] adding up to "
                    f"at most 1 (unlisted sources share the rest); got {value!r}")
    return None
