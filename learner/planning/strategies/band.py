"""``band``: items whose calibrated top-class probability lies in the project's band, in
uniformly random order, so picks from it are a uniform sample of the band."""
from __future__ import annotations

import numpy as np

from learner.planning.strategies.base import CandidateList, SelectionContext, Strategy, StrategyRequest


def band_candidates(ctx: SelectionContext, band: tuple[float, float]) -> CandidateList:
    low, high = band
    top_prob = ctx.stats["top_prob"]
    in_band = ctx.eligible & (top_prob >= low) & (top_prob <= high)
    population = np.flatnonzero(in_band)
    order = ctx.rng.permutation(population)
    top = ctx.stats["top_label"]
    reasons = [f"top probability {top_prob[r]:.2f} inside band {low:.2f}-{high:.2f}" for r in order]
    return CandidateList(order, reasons, hint_labels=top[order], uniform=True, population_rows=population)


def candidates(request: StrategyRequest) -> CandidateList:
    return band_candidates(request.ctx, request.config.band)


STRATEGY = Strategy("band", candidates, cold_start=False, lead_settable=False,
                    description="a uniform sample of the items whose top probability lies in the band")
