"""Monte Carlo check of the inclusion probabilities the planner states.

One snapshot is planned under 300 seeds. An item is in a wave's estimation sample when one of the
wave's draws drew it (``Pick.design["drawn_by"]``); the share of seeds in which that happened must
match the probability the pick states, within 3 standard errors, for at least 95 % of the items
that carry one — reported per strategy. The random slice's own probabilities add up to the
eligible pool exactly, and the Horvitz-Thompson count of the whole sample estimates it within 5 %.
The check measures frequencies: it never recomputes the planner's formulas.
"""
from collections import Counter, defaultdict

import numpy as np
import pytest

from learner.planning import PlannerConfig, PoolSnapshot, plan_wave

SEEDS = 300
N, K, DIM = 1500, 8, 24


def snapshot(with_model: bool) -> PoolSnapshot:
    rng = np.random.default_rng(11)
    y = rng.choice(K, N, p=[0.3, 0.22, 0.16, 0.12, 0.09, 0.06, 0.03, 0.02])
    centers = rng.standard_normal((K, DIM))
    emb = centers[y] + 1.2 * rng.standard_normal((N, DIM))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    groups = np.arange(N)
    groups[1::7] = groups[0::7][: len(groups[1::7])]  # pairs of duplicates
    labeled = rng.random(N) < 0.05
    labeled_y = np.where(labeled, y, -1)
    proba = None
    if with_model:
        logits = 2.5 * (emb @ centers.T) + rng.standard_normal((N, K))
        proba = np.exp(logits - logits.max(1, keepdims=True))
        proba /= proba.sum(1, keepdims=True)
    rules = {6: np.flatnonzero((y == 6) | (rng.random(N) < 0.02)), 7: np.flatnonzero((y == 7) | (rng.random(N) < 0.01))}
    vectors = centers + 0.3 * rng.standard_normal(centers.shape)
    return PoolSnapshot(item_ids=np.arange(1000, 1000 + N), label_names=[f"l{k}" for k in range(K)], labeled=labeled,
                        sources=np.array(["mail", "chat", "web"], dtype=object)[np.arange(N) % 3], dup_groups=groups,
                        embeddings=emb, proba=proba, labeled_y=labeled_y, rule_rows=rules,
                        label_vectors=vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


CONFIGS = {
    "cold start": (False, PlannerConfig(wave_size=120, random_share=0.1,
                                        source_quotas={"mail": 0.5, "chat": 0.3, "web": 0.2},
                                        cold_start_mix={"rules": 0.3, "label_names": 0.4, "diversity": 0.2})),
    "with a model": (True, PlannerConfig(wave_size=120, random_share=0.1, rare_threshold=60,
                                         strategy_mix={"rare": 0.25, "uncertainty": 0.15, "band": 0.2,
                                                       "diversity": 0.15, "sampled_uncertainty": 0.15})),
}


def eligible_groups(snap: PoolSnapshot) -> int:
    labeled_groups = set(snap.dup_groups[snap.labeled].tolist())
    return len({g for g, lab in zip(snap.dup_groups.tolist(), snap.labeled.tolist(), strict=True)
                if not lab and g not in labeled_groups})


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_stated_inclusion_probabilities_match_frequencies_over_seeds(case):
    with_model, config = CONFIGS[case]
    snap = snapshot(with_model)
    n_eligible = eligible_groups(snap)
    stated: dict[int, float] = {}
    strategy_of: dict[int, Counter] = defaultdict(Counter)
    hits = Counter()
    ht_counts = []
    for seed in range(SEEDS):
        plan = plan_wave(snap, config, seed=seed)
        sample = [p for p in plan.picks if p.inclusion_prob is not None]
        assert all(p.design.get("drawn_by") for p in sample)
        assert all(p.design.get("no_pi") for p in plan.picks if p.inclusion_prob is None)
        randoms = [p for p in sample if p.strategy == "random"]
        assert sum(1 / p.design["pi"]["random"] for p in randoms) == pytest.approx(n_eligible)
        ht_counts.append(sum(1 / p.inclusion_prob for p in sample))
        for p in sample:
            assert stated.setdefault(p.row, p.inclusion_prob) == pytest.approx(p.inclusion_prob)  # fixed by the design
            strategy_of[p.row][p.strategy] += 1
            hits[p.row] += 1
    within = defaultdict(list)
    for row, pi in stated.items():
        freq = hits[row] / SEEDS
        se = np.sqrt(max(pi * (1 - pi), 1e-12) / SEEDS)
        within[strategy_of[row].most_common(1)[0][0]].append(abs(freq - pi) <= 3 * se + 1e-9)
    shares = {strategy: (float(np.mean(ok)), len(ok)) for strategy, ok in within.items()}
    assert len(shares) >= 3, shares
    assert all(share >= 0.95 for share, _ in shares.values()), f"{case}: share within 3 SE per strategy {shares}"
    assert abs(np.mean(ht_counts) / n_eligible - 1) < 0.05, (np.mean(ht_counts), n_eligible)


def test_a_ranked_strategys_picks_never_claim_a_probability():
    snap = snapshot(True)
    plan = plan_wave(snap, PlannerConfig(wave_size=60, random_share=0.0, strategy_mix={"uncertainty": 1.0}), seed=1)
    assert all(p.inclusion_prob is None for p in plan.picks)
