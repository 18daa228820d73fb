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
        return PlannerConfig.from_settings(**base, strategy_mix=sim.strategy_mix, random_share=sim.random_share,
                                           source_quotas=sim.source_quotas, cold_start_mix=sim.cold_start_mix,
                                           **sim.planner_options)
    raise ValueError(f"unknown preset {sim.strategy!r}; choose one of {', '.join(PRESETS)}")
