"""How a wave is planned: ``PlannerConfig`` (size, mixes, random share, quotas, caps, options of
the strategies) and the default mixes."""
from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MIX = {"rare": 0.4, "uncertainty": 0.3, "diversity": 0.2}
# Tuned with manage.py simulate (docs/simulation.md): with a wave of ~100 and ~80 labels, 0.6 gives
# every label a name neighbour in the first wave; rules, when a project has none, hand their share on.
DEFAULT_COLD_START_MIX = {"rules": 0.3, "label_names": 0.6, "diversity": 0.1}
# Not strategies: the planner draws these itself (see learner.planning.plan).
RANDOM = "random"
FILL = "fill"


@dataclass
class PlannerConfig:
    wave_size: int = 1000
    strategy_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    cold_start_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COLD_START_MIX))
    random_share: float = 0.10
    # Share of each wave per source name. Missing/zero-quota sources share what the listed quotas
    # leave (1 - sum); with no positive quota at all, sources are not constrained.
    source_quotas: dict[str, float] | None = None
    label_cap_share: float = 0.25
    # The wave's number in its project: sources with equal quotas take the odd slot of a wave in
    # turn by it (learner.planning.quotas.largest_remainder), so over the waves they get equal shares.
    wave_number: int = 0
    rare_threshold: int = 500
    band: tuple[float, float] = (0.30, 0.70)
    # How the "uncertainty" share ranks items: "margin" (smallest top-2 gap), "cluster_margin"
    # (k-means over the smallest-margin items, the most uncertain of each cluster first) or "band".
    uncertainty: str = "margin"
    # Adaptive mix: move ``rare_shift_share`` x (share of labels with at least this many labeled
    # examples) of the rare share to uncertainty; all of it once every label has them (None: never).
    rare_shift_after: int | None = None
    rare_shift_share: float = 1.0
    diversity_sample: int = 10000
    # With a model, cluster only the less certain part of the pool ("uncertain") or all of it ("all").
    diversity_focus: str = "uncertain"
    rare_max_queries: int = 256
    # How rare-label picks are shared among rare labels: "stride" (rate 1 / (labeled + 1)) or
    # "round_robin" (one per label per round, rarest first).
    rare_allocation: str = "round_robin"
    # Rank a rare label's candidates by "probability" p or by "variance" p (1 - p).
    rare_rank: str = "variance"
    # Name neighbours per rare label that has no labeled example yet.
    rare_unseen_depth: int = 2
    # Neighbours of labeled examples only for rare labels with fewer examples than this (None: all).
    rare_knn_below: int | None = None

    @classmethod
    def from_settings(cls, *, wave_size: int, strategy_mix: dict | None = None, random_share: float = 0.10,
                      source_quotas: dict | None = None, label_cap_share: float = 0.25, rare_threshold: int = 500,
                      band: tuple[float, float] = (0.30, 0.70), cold_start_mix: dict | None = None,
                      **options) -> PlannerConfig:
        """A wave's configuration from what a lead sets on a project. The product's pool
        (labeling.waves.pool) and the simulation's "default" preset both build it here, so they
        plan alike: an empty mix means the default one, quotas that are all zero mean none."""
        quotas = {str(k): float(v) for k, v in (source_quotas or {}).items()}
        return cls(wave_size=int(wave_size),
                   strategy_mix={k: float(v) for k, v in (strategy_mix or {}).items()} or dict(DEFAULT_MIX),
                   cold_start_mix={k: float(v) for k, v in (cold_start_mix or {}).items()} or dict(DEFAULT_COLD_START_MIX),
                   random_share=float(random_share), source_quotas=quotas if any(v > 0 for v in quotas.values()) else None,
                   label_cap_share=float(label_cap_share), rare_threshold=int(rare_threshold),
                   band=(float(band[0]), float(band[1])), **options)
