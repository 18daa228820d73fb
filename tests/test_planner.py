"""The wave planner as a pure function: no database, synthetic pools with known structure."""
from collections import Counter

import numpy as np
import pytest

from learner.planning import PlannerConfig, PoolSnapshot, cut_batches, plan_wave
from learner.scoring import pack_probs, pack_probs_matrix, score_stats, unpack_probs

K = 6
LABELS = [f"label_{i}" for i in range(K)]


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_pool(n=600, *, seed=0, sources=("email", "chat", "forum"), with_model=True, labeled_share=0.1,
              dup_pairs=0):
    rng = np.random.default_rng(seed)
    centers = unit(rng.standard_normal((K, 16)))
    y = rng.choice(K, n, p=[0.4, 0.3, 0.15, 0.1, 0.04, 0.01])
    emb = unit(centers[y] + 0.3 * rng.standard_normal((n, 16)))
    labeled = rng.random(n) < labeled_share
    labeled_y = np.where(labeled, y, -1)
    src = np.array(sources, dtype=object)[rng.integers(0, len(sources), n)]
    groups = np.arange(n)
    for i in range(dup_pairs):  # rows 2i and 2i+1 are duplicates
        groups[2 * i + 1] = groups[2 * i]
    proba = None
    if with_model:
        logits = emb @ centers.T * 4 + 0.3 * rng.standard_normal((n, K))
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return PoolSnapshot(item_ids=np.arange(n) + 100, label_names=LABELS, labeled=labeled, sources=src,
                        dup_groups=groups, embeddings=emb, proba=proba, labeled_y=labeled_y,
                        label_vectors=centers), y


def test_plan_size_quotas_and_no_labeled_items():
    snap, _ = make_pool()
    config = PlannerConfig(wave_size=120, source_quotas={"email": 0.5, "chat": 0.3, "forum": 0.2},
                           rare_threshold=30)
    plan = plan_wave(snap, config, seed=1)
    assert len(plan.picks) == 120
    by_source = Counter(p.source for p in plan.picks)
    assert by_source == {"email": 60, "chat": 36, "forum": 24}
    assert plan.report["source_achieved"] == {"chat": 36, "email": 60, "forum": 24}
    rows = [p.row for p in plan.picks]
    assert len(set(rows)) == len(rows)
    assert not snap.labeled[rows].any()
    assert {p.strategy for p in plan.picks} <= {"random", "rare", "uncertainty", "diversity"}
    # item ids are the snapshot's, not row numbers
    assert all(p.item_id == snap.item_ids[p.row] for p in plan.picks)


def test_dry_source_is_redistributed_and_reported():
    snap, _ = make_pool(n=600)
    # "forum" has only 5 eligible items left.
    forum = np.flatnonzero(snap.sources == "forum")
    snap.labeled[forum] = True
    snap.labeled[forum[:5]] = False
    config = PlannerConfig(wave_size=100, source_quotas={"email": 0.4, "chat": 0.4, "forum": 0.2})
    plan = plan_wave(snap, config, seed=0)
    assert len(plan.picks) == 100
    by_source = Counter(p.source for p in plan.picks)
    assert by_source["forum"] == 5
    assert by_source["email"] + by_source["chat"] == 95
    moves = plan.report["redistributed"]
    assert len(moves) == 1 and moves[0]["source"] == "forum"
    assert moves[0]["requested"] == 20 and moves[0]["available"] == 5 and moves[0]["moved"] == 15
    assert sum(moves[0]["to"].values()) == 15 and set(moves[0]["to"]) <= {"email", "chat"}
    assert "ran dry" in moves[0]["reason"]


def test_zero_quota_sources_share_the_rest():
    snap, _ = make_pool()
    plan = plan_wave(snap, PlannerConfig(wave_size=100, source_quotas={"email": 0.6}), seed=0)
    by_source = Counter(p.source for p in plan.picks)
    assert by_source == {"email": 60, "chat": 20, "forum": 20}


def test_one_item_per_duplicate_group_and_labeled_groups_excluded():
    snap, _ = make_pool(n=300, dup_pairs=150, labeled_share=0.0)  # every row has a twin
    snap.labeled[0] = True  # so row 1 (its duplicate) must never be picked either
    plan = plan_wave(snap, PlannerConfig(wave_size=140, rare_threshold=1000), seed=3)
    groups = [snap.dup_groups[p.row] for p in plan.picks]
    assert len(groups) == len(set(groups)) == 140
    assert 1 not in [p.row for p in plan.picks]


def test_wave_limited_by_eligible_groups_is_reported():
    snap, _ = make_pool(n=60, dup_pairs=30, labeled_share=0.0)
    plan = plan_wave(snap, PlannerConfig(wave_size=100), seed=0)
    assert len(plan.picks) == 30
    assert any("eligible items" in note for note in plan.report["notes"])


def test_label_cap_per_predicted_label():
    snap, _ = make_pool(n=1600, labeled_share=0.0)
    # label_0 is predicted for half the items, with small margins (the uncertainty ranking's favourites).
    snap.proba[:800, 0] += 0.8
    snap.proba[:800, 1] += 0.75
    snap.proba /= snap.proba.sum(axis=1, keepdims=True)
    config = PlannerConfig(wave_size=100, label_cap_share=0.2, random_share=0.0,
                           strategy_mix={"uncertainty": 1.0})
    plan = plan_wave(snap, config, seed=0)
    per_label = Counter(p.predicted_label for p in plan.picks)
    assert plan.report["label_cap"] == 20
    assert len(plan.picks) == 100
    assert per_label[0] == 20 and max(per_label.values()) <= 20
    assert plan.report["cap_skips"] > 0
    # When every item is predicted as one label the cap cannot hold: relaxed and reported.
    snap.proba[:, 0] += 5.0
    plan = plan_wave(snap, config, seed=0)
    assert len(plan.picks) == 100
    assert any("label cap relaxed" in note for note in plan.report["notes"])


def test_ranked_picks_carry_no_probability_and_drawn_ones_say_which_draws():
    # The frequencies themselves are checked by Monte Carlo in tests/learner/test_inclusion_probabilities.py.
    snap, _ = make_pool(n=900)
    config = PlannerConfig(wave_size=90, random_share=0.2, source_quotas={"email": 1, "chat": 1, "forum": 1},
                           strategy_mix={"uncertainty": 0.5, "band": 0.5}, band=(0.2, 0.9))
    plan = plan_wave(snap, config, seed=0)
    ranked = [p for p in plan.picks if p.strategy == "uncertainty"]
    assert ranked and all(p.inclusion_prob is None and "not a probability draw" in p.design["no_pi"] for p in ranked)
    drawn = [p for p in plan.picks if p.strategy in ("random", "band")]
    assert drawn and all(0 < p.inclusion_prob <= 1 and p.design["drawn_by"][0] == p.strategy for p in drawn)
    eligible = ~snap.labeled
    for source in ("email", "chat", "forum"):
        randoms = [p for p in plan.picks if p.strategy == "random" and p.source == source]
        population = int((eligible & (snap.sources == source)).sum())
        assert len(randoms) == 6
        assert all(p.design["pi"]["random"] == pytest.approx(6 / population) for p in randoms)
        # An item of the band could also have come through the band's draw: its probability is higher.
        assert all(p.inclusion_prob >= p.design["pi"]["random"] for p in randoms)


def test_random_slice_is_uniform_within_source():
    # Over many seeds every eligible item of a stratum is drawn about n/N of the time.
    snap, _ = make_pool(n=200, sources=("only",), labeled_share=0.0)
    config = PlannerConfig(wave_size=20, random_share=1.0, strategy_mix={})
    hits = np.zeros(200)
    for seed in range(300):
        for p in plan_wave(snap, config, seed=seed).picks:
            assert p.strategy == "random" and p.inclusion_prob == pytest.approx(0.1)  # the only draw
            hits[p.row] += 1
    assert abs(hits.mean() / 300 - 0.1) < 1e-9
    assert hits.min() > 10 and hits.max() < 55  # binomial(300, 0.1): mean 30


def test_deterministic_by_seed():
    snap, _ = make_pool()
    config = PlannerConfig(wave_size=80, source_quotas={"email": 0.5, "chat": 0.5})
    a = [(p.row, p.strategy) for p in plan_wave(snap, config, seed=7).picks]
    b = [(p.row, p.strategy) for p in plan_wave(snap, config, seed=7).picks]
    c = [(p.row, p.strategy) for p in plan_wave(snap, config, seed=8).picks]
    assert a == b
    assert a != c


def test_rare_strategy_targets_rare_labels():
    snap, y = make_pool(n=1000, labeled_share=0.3)
    counts = snap.label_counts
    config = PlannerConfig(wave_size=40, random_share=0.0, strategy_mix={"rare": 1.0},
                           rare_threshold=int(np.sort(counts)[2]) + 1)
    plan = plan_wave(snap, config, seed=0)
    rare = set(np.flatnonzero(counts < config.rare_threshold).tolist())
    assert len(rare) >= 2
    assert all(p.hint_label in rare for p in plan.picks)
    # The candidates are of the rare labels far more often than the pool's base rate.
    base_rate = np.isin(y[~snap.labeled], list(rare)).mean()
    assert np.mean([y[p.row] in rare for p in plan.picks]) > max(0.4, 4 * base_rate)


def test_cold_start_picks_rule_matches_and_label_name_neighbours():
    snap, y = make_pool(n=800, with_model=False, labeled_share=0.0)
    rule_hits = np.flatnonzero(y == 5)[:4]
    snap.rule_rows = {5: rule_hits}
    config = PlannerConfig(wave_size=60, source_quotas={"email": 1, "chat": 1, "forum": 1},
                           cold_start_mix={"rules": 0.2, "label_names": 0.5, "diversity": 0.3})
    plan = plan_wave(snap, config, seed=0)
    assert plan.cold_start and plan.report["cold_start"]
    picked = {p.row: p for p in plan.picks}
    # Every rule match is in the wave (unless its source's quota was already full of them).
    assert set(rule_hits.tolist()) <= set(picked)
    assert all(picked[r].strategy in ("rules", "random") for r in rule_hits)
    by_name = [p for p in plan.picks if p.strategy == "label_names"]
    assert {p.hint_label for p in by_name} == set(range(K))
    # A label-name neighbour is nearly always of that label in this synthetic space.
    assert np.mean([y[p.row] == p.hint_label for p in by_name]) > 0.8
    assert all(p.predicted_label is None for p in plan.picks)


def test_unknown_strategy_and_bad_shapes_fail_clearly():
    snap, _ = make_pool()
    with pytest.raises(ValueError, match="unknown strategy 'oracle'"):
        plan_wave(snap, PlannerConfig(strategy_mix={"oracle": 1.0}, wave_size=10))
    with pytest.raises(ValueError, match="PoolSnapshot.sources has 3 rows, expected 600"):
        PoolSnapshot(item_ids=np.arange(600), label_names=LABELS, sources=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"proba must have shape \(4, 6\)"):
        PoolSnapshot(item_ids=np.arange(4), label_names=LABELS, proba=np.ones((4, 3)))


def test_report_composition_is_complete():
    snap, _ = make_pool()
    plan = plan_wave(snap, PlannerConfig(wave_size=90, source_quotas={"email": 1, "chat": 1, "forum": 1}), seed=0)
    comp = plan.report["composition"]
    assert sum(c["count"] for c in comp) == 90
    assert {c["source"] for c in comp} == {"email", "chat", "forum"}
    assert all(c["predicted_label"] in LABELS for c in comp)
    ach = plan.report["strategy_achieved"]
    assert sum(ach.values()) == 90 and ach["random"] == 9


def test_batches_spread_likely_rare_items():
    snap, _ = make_pool(n=1000)
    plan = plan_wave(snap, PlannerConfig(wave_size=100, rare_threshold=20), seed=0)
    n_rare = sum(p.likely_rare for p in plan.picks)
    assert 5 <= n_rare < 100
    batches = cut_batches(plan.picks, 20, seed=0)
    assert [len(b) for b in batches] == [20] * 5
    assert all(any(p.likely_rare for p in b) for b in batches)
    assert sorted(p.row for b in batches for p in b) == sorted(p.row for p in plan.picks)
    assert cut_batches(plan.picks, 20, seed=0)[0][0].row == batches[0][0].row
    # Shuffled: the order inside batches is not the plan's order.
    assert [p.row for b in batches for p in b] != [p.row for p in plan.picks]


def test_batches_uneven_and_few_rare():
    snap, _ = make_pool(n=300)
    picks = plan_wave(snap, PlannerConfig(wave_size=45, rare_threshold=0), seed=0).picks
    assert not any(p.likely_rare for p in picks)
    for p in picks[:2]:
        p.likely_rare = True
    batches = cut_batches(picks, 10, seed=1)
    assert [len(b) for b in batches] == [10, 10, 10, 10, 5]
    assert [sum(p.likely_rare for p in b) for b in batches].count(1) == 2
    with pytest.raises(ValueError):
        cut_batches(picks, 0)
    assert cut_batches([], 10) == []


def test_score_stats_and_packing():
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    stats = score_stats(proba)
    assert stats["top_label"].tolist() == [0, 0, 0]
    assert stats["top_prob"] == pytest.approx([0.7, 0.4, 1.0])
    assert stats["margin"] == pytest.approx([0.5, 0.0, 1.0])
    assert stats["entropy"][2] == pytest.approx(0.0)
    assert stats["entropy"][1] > stats["entropy"][0]
    blob = pack_probs(proba[0])
    assert len(blob) == 6
    assert unpack_probs(blob, 3) == pytest.approx(proba[0], abs=1e-3)
    assert [unpack_probs(b) for b in pack_probs_matrix(proba)][1] == pytest.approx(proba[1], abs=1e-3)
    with pytest.raises(ValueError, match="2 labels, expected 3"):
        unpack_probs(pack_probs([0.5, 0.5]), 3)


def test_dry_strategy_slots_resplit_by_share_and_reported():
    snap, _ = make_pool(n=800, with_model=False, labeled_share=0.0)
    snap.rule_rows = {}  # no rules: the "rules" draw finds nothing, its slots go to the ranked strategies
    config = PlannerConfig(wave_size=70, random_share=0.0,
                           cold_start_mix={"rules": 0.3, "label_names": 0.6, "diversity": 0.1})
    plan = plan_wave(snap, config, seed=0)
    achieved = plan.report["strategy_achieved"]
    assert achieved["rules"] == 0
    # A draw keeps its own share (diversity: 7 of 70); what rules left goes to label names.
    assert achieved["label_names"] == 63 and achieved["diversity"] == 7
    assert plan.report["draws"]["rules"] == {"slots": 21, "drawn": 0} and plan.report["draws"]["diversity"]["drawn"] == 7
    assert any("strategy rules filled 0 of 21" in note for note in plan.report["notes"])


def test_label_cap_never_below_an_even_share():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1], 300)
    snap = PoolSnapshot(item_ids=np.arange(300), label_names=["a", "b"], proba=proba)
    plan = plan_wave(snap, PlannerConfig(wave_size=40, label_cap_share=0.25, random_share=0.0,
                                         strategy_mix={"uncertainty": 1.0}), seed=0)
    assert plan.report["label_cap"] == 20  # 0.25 x 40 = 10 would be infeasible with two labels
    assert plan.report["strategy_achieved"] == {"random": 0, "uncertainty": 40}


def test_cluster_margin_spreads_uncertain_picks_over_clusters():
    snap, _ = make_pool(n=1000, labeled_share=0.2)
    base = dict(wave_size=20, random_share=0.0, strategy_mix={"uncertainty": 1.0})
    plain = plan_wave(snap, PlannerConfig(**base, uncertainty="margin"), seed=3)
    spread = plan_wave(snap, PlannerConfig(**base, uncertainty="cluster_margin"), seed=3)
    assert len(spread) == 20 and all(p.strategy == "uncertainty" for p in spread.picks)
    assert all(p.inclusion_prob is None and not snap.labeled[p.row] for p in spread.picks)
    margin = score_stats(snap.proba)["margin"]
    rows = [p.row for p in spread.picks]
    # Taken from the most uncertain part of the pool, but not simply its top 20 ...
    assert np.max(margin[rows]) <= np.sort(margin[~snap.labeled])[200]
    assert set(rows) != {p.row for p in plain.picks}
    # ... and less redundant: the picks are further apart than plain margin's.
    def mean_cos(r):
        e = snap.embeddings[r]
        s = e @ e.T
        return (s.sum() - len(r)) / (len(r) * (len(r) - 1))
    assert mean_cos(rows) < mean_cos([p.row for p in plain.picks])


def test_rare_share_moves_to_uncertainty_once_every_label_is_covered():
    snap, _ = make_pool(n=1000, labeled_share=0.3)
    assert snap.label_counts.min() >= 3
    config = PlannerConfig(wave_size=40, random_share=0.0, strategy_mix={"rare": 0.5, "uncertainty": 0.5},
                           rare_shift_after=3, rare_shift_share=0.5)
    plan = plan_wave(snap, config, seed=0)
    assert plan.report["strategy_achieved"] == {"random": 0, "rare": 10, "uncertainty": 30}
    assert any("moved from the rare share to uncertainty" in n for n in plan.report["notes"])
    # Half of the labels reach the bar: half of the shift (0.125 of the wave) happens.
    config.rare_shift_after = int(np.sort(snap.label_counts)[K // 2])
    plan = plan_wave(snap, config, seed=0)
    assert plan.report["strategy_achieved"] == {"random": 0, "rare": 15, "uncertainty": 25}
    config.rare_shift_after = int(snap.label_counts.max()) + 1  # no label has that many yet
    plan = plan_wave(snap, config, seed=0)
    assert plan.report["strategy_achieved"] == {"random": 0, "rare": 20, "uncertainty": 20}


def test_items_without_a_source_are_planned_when_quotas_add_up_to_one():
    snap, _ = make_pool(n=600, sources=("mail", "chat"), labeled_share=0.0)
    snap.sources[:150] = ""  # a quarter of the pool came without a source
    config = PlannerConfig(wave_size=80, random_share=0.2, source_quotas={"mail": 0.6, "chat": 0.4},
                           strategy_mix={"uncertainty": 1.0})
    plan = plan_wave(snap, config, seed=0)
    no_source = [p for p in plan.picks if p.source == ""]
    assert len(no_source) == 20  # its share of the pool, 150 of 600
    assert any("have no source" in note for note in plan.report["notes"])
    assert Counter(p.source for p in plan.picks if p.source) == {"mail": 36, "chat": 24}  # 0.6 / 0.4 of the rest
