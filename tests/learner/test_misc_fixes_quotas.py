"""Source quotas when a source with a quota has no items in the pool: its share runs dry like any
emptied source's and goes to the other sources in proportion to their quotas (reported in
``redistributed``), never to the sources the lead gave a quota of 0."""
from collections import Counter

import numpy as np

from learner.planning import PlannerConfig, PoolSnapshot, plan_wave

SOURCES = ["Virgin America", "United", "Delta", "US Airways", "Southwest", "American"]


def pool(n=1200, seed=0) -> PoolSnapshot:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return PoolSnapshot(item_ids=np.arange(n) + 1, label_names=["a", "b", "c"], labeled=np.zeros(n, bool),
                        sources=np.array(SOURCES, dtype=object)[np.arange(n) % len(SOURCES)],
                        dup_groups=np.arange(n), embeddings=emb, proba=None, labeled_y=np.full(n, -1))


def test_an_empty_source_s_quota_goes_to_the_quota_sources_not_to_a_zero_quota_one():
    quotas = {"Virgin America": 0.0, "United": 0.1, "Delta": 0.1, "US Airways": 0.1, "Southwest": 0.1,
              "American": 0.1, "Empty": 0.5}
    plan = plan_wave(pool(), PlannerConfig(wave_size=100, source_quotas=quotas), seed=0)
    by_source = Counter(p.source for p in plan.picks)
    assert len(plan.picks) == 100
    assert by_source["Virgin America"] == 0
    assert all(by_source[s] == 20 for s in SOURCES[1:]), by_source
    moves = plan.report["redistributed"]
    assert [m["source"] for m in moves] == ["Empty"]
    assert moves[0]["requested"] == 50 and moves[0]["available"] == 0 and moves[0]["moved"] == 50
    assert moves[0]["to"] == {s: 10 for s in SOURCES[1:]}
    assert "no items in the pool" in moves[0]["reason"]
    assert any("Empty" in note for note in plan.report["notes"])
    # The inclusion probabilities follow the targets: within a source the random slice is k / N.
    for pick in plan.picks:
        if pick.strategy == "random":
            assert pick.design["pi"]["random"] == 2 / 200  # 10 % of a source's 20 slots, 200 items each


def test_zero_quota_sources_still_share_what_the_quotas_leave_with_an_empty_source():
    quotas = {"United": 0.3, "Empty": 0.2}  # the other five sources share 0.5
    plan = plan_wave(pool(), PlannerConfig(wave_size=100, source_quotas=quotas), seed=0)
    by_source = Counter(p.source for p in plan.picks)
    # Targets: United 30, Empty 20, the others 10 each; Empty's 20 go 3 : 1 : 1 : 1 : 1 : 1.
    assert by_source["United"] == 37
    assert sum(by_source.values()) == 100
    for s in SOURCES:
        if s != "United":
            assert 12 <= by_source[s] <= 13, by_source


def test_every_quota_source_empty_fills_the_wave_from_the_others_and_says_so():
    quotas = {"Empty": 0.6, "Gone": 0.4}
    plan = plan_wave(pool(), PlannerConfig(wave_size=60, source_quotas=quotas), seed=0)
    by_source = Counter(p.source for p in plan.picks)
    assert len(plan.picks) == 60 and set(by_source) == set(SOURCES)
    assert all(count == 10 for count in by_source.values()), by_source
    moves = plan.report["redistributed"]
    assert {m["source"] for m in moves} == {"Empty", "Gone"}
    assert sum(m["moved"] for m in moves) == 60
