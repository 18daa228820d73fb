"""The ``band`` strategy in a wave's mix: its picks come from the configured band, so moving the
band moves what is picked (the band in review routing: tests/test_review_routing.py)."""
import numpy as np

from learner.planning import PlannerConfig, plan_wave
from learner.planning.strategies import lead_settable
from learner.scoring import score_stats

from .test_planner import make_pool


def band_picks(snap, band, seed=0):
    config = PlannerConfig(wave_size=60, random_share=0.0, strategy_mix={"band": 1.0}, band=band)
    return [p for p in plan_wave(snap, config, seed=seed).picks if p.strategy == "band"]


def test_band_is_a_strategy_leads_can_put_in_the_mix():
    assert "band" in lead_settable()


def test_moving_the_band_moves_the_picks():
    snap, _ = make_pool(n=900)
    top = score_stats(snap.proba)["top_prob"]
    eligible = ~snap.labeled
    for band in ((0.3, 0.5), (0.6, 0.8)):
        inside = eligible & (top >= band[0]) & (top <= band[1])
        assert inside.sum() > 60  # enough of the pool in each band for a full draw
        picks = band_picks(snap, band)
        assert len(picks) == 60
        assert all(band[0] <= top[p.row] <= band[1] for p in picks)
        # every item of the band has the same chance k / N
        assert all(np.isclose(p.inclusion_prob, 60 / inside.sum()) for p in picks)
    low = {p.row for p in band_picks(snap, (0.3, 0.5))}
    high = {p.row for p in band_picks(snap, (0.6, 0.8))}
    assert not low & high
