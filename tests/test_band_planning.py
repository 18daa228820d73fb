"""The ``band`` strategy in a wave's mix: its picks come from the configured band, so moving the
band moves what is picked (the band in review routing: tests/test_review_routing.py)."""
import numpy as np

from labeling.modeling.versions import active_model
from labeling.waves.pool import planner_config, planner_snapshot
from learner.planning import PlannerConfig, plan_wave
from learner.planning.strategies import lead_settable
from learner.scoring import score_stats

from . import test_loop_helpers as helpers
from .test_planner import make_pool

eager_celery = helpers.eager_celery


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


def test_the_projects_band_decides_the_band_picks_of_its_waves(eager_celery, project_factory,
                                                               django_capture_on_commit_callbacks):
    """The product's path: a trained project, its snapshot and its configuration, two bands."""
    project, _ = helpers.build_project(project_factory, slug="bandp", n_labeled=40, seed=5,
                                        wave_size=20)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    snap = planner_snapshot(project, active_model(project), {})
    # The synthetic clusters are separable (every top probability is about 1): spread them out.
    snap.proba = np.random.default_rng(0).dirichlet(np.ones(snap.proba.shape[1]), size=len(snap.proba))
    top = score_stats(snap.proba)["top_prob"]
    low, high = np.quantile(top[~snap.labeled], [0.1, 0.9])
    middle = float(np.median(top[~snap.labeled]))
    project.strategy_mix, project.random_share = {"band": 1.0}, 0.0
    picked = {}
    for band in ((float(low), middle), (middle + 1e-6, float(high))):
        project.band_low, project.band_high = band
        project.save()
        picks = [p for p in plan_wave(snap, planner_config(project, 20), seed=1).picks if p.strategy == "band"]
        assert len(picks) == 20 and all(band[0] <= top[p.row] <= band[1] for p in picks)
        picked[band] = {p.row for p in picks}
    assert len(picked) == 2 and not set.intersection(*picked.values())
