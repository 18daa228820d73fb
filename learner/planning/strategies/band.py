"""``band`` (a draw): a simple random sample of the eligible items whose calibrated top-class
probability lies in the project's band; every item of the band has inclusion probability k / N."""
from __future__ import annotations

from learner.planning.draws import DrawPlan, simple_random_sample
from learner.planning.strategies.base import DrawRequest, Strategy


def draw(request: DrawRequest) -> DrawPlan:
    ctx, (low, high) = request.ctx, request.config.band
    top_prob, top = ctx.stats["top_prob"], ctx.stats["top_label"]
    population = request.population[(top_prob[request.population] >= low) & (top_prob[request.population] <= high)]
    rows, pi = simple_random_sample(population, request.k, ctx.rng)
    reasons = [f"uniform draw from the {len(population)} items with top probability inside the band "
               f"{low:.2f}-{high:.2f} (this one {top_prob[r]:.2f})" for r in rows]
    return DrawPlan(rows, reasons, top[rows], {int(r): pi for r in population})


STRATEGY = Strategy("band", draw=draw, cold_start=False, lead_settable=True,
                    description="a uniform sample of the items whose top probability lies in the band")
