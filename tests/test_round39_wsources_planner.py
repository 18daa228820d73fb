"""The planner's source split over a project's life, on snapshots only (no database).

* Equal quotas take the odd slot of a wave in turn by the wave's number, and the random slice's
  stated inclusion probabilities stay true for each wave's design: checked by Monte Carlo over seeds
  (frequencies, never the planner's formula).
* Quotas within the product's tolerance of 1 (0.333333 × 3, 0.5 + 0.49) are a full set: items with
  no source get their share of the pool beside them, a zero-quota source gets nothing.
"""
from collections import Counter

import numpy as np

from learner.planning import PlannerConfig, PoolSnapshot, plan_wave

SEEDS = 400


def _snapshot(sizes: dict[str, int]) -> PoolSnapshot:
    sources = np.array([s for s, n in sizes.items() for _ in range(n)], dtype=object)
    n = len(sources)
    rng = np.random.default_rng(3)
    emb = rng.standard_normal((n, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return PoolSnapshot(item_ids=np.arange(1, n + 1), label_names=["a", "b"], labeled=np.zeros(n, bool),
                        sources=sources, dup_groups=np.arange(n), embeddings=emb, proba=None,
                        labeled_y=np.full(n, -1), rule_rows={}, label_vectors=emb[:2])


def _config(wave_number: int, quotas: dict, size: int, **extra) -> PlannerConfig:
    return PlannerConfig(wave_size=size, random_share=1.0, strategy_mix={}, cold_start_mix={"diversity": 1.0},
                         source_quotas=quotas, wave_number=wave_number, **extra)


def test_equal_small_quotas_take_the_odd_slot_in_turn_and_the_stated_probabilities_hold():
    snap = _snapshot({"email": 60, "chat": 20, "social": 20})
    quotas = {"email": 0.8, "chat": 0.1, "social": 0.1}  # a wave of 15: 12 + 1.5 + 1.5
    totals = Counter()
    for wave_number in range(4):
        drawn, stated = Counter(), {}
        per_source = Counter()
        for seed in range(SEEDS):
            plan = plan_wave(snap, _config(wave_number, quotas, 15), seed=seed)
            for pick in plan.picks:
                drawn[pick.item_id] += 1
                stated.setdefault(pick.item_id, pick.inclusion_prob)
                assert pick.inclusion_prob is not None and pick.design["drawn_by"] == ["random"]
            if seed == 0:
                per_source = Counter(p.source for p in plan.picks)
        totals.update(per_source)
        z = {item_id: abs(drawn[item_id] / SEEDS - pi) / np.sqrt(pi * (1 - pi) / SEEDS)
             for item_id, pi in stated.items()}
        assert len(stated) == 100, f"wave {wave_number}: only {len(stated)} of 100 items were ever drawn"
        assert sum(v <= 3 for v in z.values()) >= 0.95 * len(z) and max(z.values()) <= 5, (wave_number, z)
        assert per_source["email"] == 12 and per_source["chat"] + per_source["social"] == 3
    # over four waves the two equal quotas got the same number of picks
    assert totals["chat"] == totals["social"] == 6, totals


def test_three_equal_quotas_rotate_the_extra_slot_over_three_waves():
    snap = _snapshot({"a": 200, "b": 200, "c": 200})
    quotas = {"a": 0.333333, "b": 0.333333, "c": 0.333333}
    firsts = []
    for wave_number in range(3):
        counts = Counter(p.source for p in plan_wave(snap, _config(wave_number, quotas, 100), seed=1).picks)
        assert sorted(counts.values()) == [33, 33, 34], counts
        firsts.append(max(counts, key=counts.get))
    assert sorted(firsts) == ["a", "b", "c"], firsts


def test_quotas_a_third_each_leave_the_no_source_items_their_share():
    snap = _snapshot({"email": 40, "chat": 40, "social": 40, "": 120})
    counts = Counter(p.source for p in plan_wave(snap, _config(0, dict.fromkeys(["email", "chat", "social"], 0.333333),
                                                               100), seed=2).picks)
    assert 45 <= counts[""] <= 55, counts


def test_quotas_within_the_tolerance_of_one_give_a_zero_quota_source_nothing():
    snap = _snapshot({"email": 100, "chat": 100, "social": 100})
    counts = Counter(p.source for p in plan_wave(snap, _config(0, {"email": 0.5, "social": 0.49, "chat": 0.0}, 100),
                                                 seed=2).picks)
    assert counts["chat"] == 0 and counts["email"] + counts["social"] == 100, counts
