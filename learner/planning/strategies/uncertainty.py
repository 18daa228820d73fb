"""``uncertainty`` (ranked): the items the model is least sure about. By
``PlannerConfig.uncertainty``: "margin" (smallest gap between the two most probable labels first)
or "cluster_margin" (the most uncertain item of each of k clusters of the smallest-margin items
first, so picks are not copies of one confusion). ``sampled_uncertainty`` (a draw) samples with
probability proportional to the uncertainty instead, so its picks can enter estimates."""
from __future__ import annotations

import numpy as np

from learner.planning.draws import DrawPlan, systematic_pps
from learner.planning.strategies.base import (
    CandidateList,
    DrawRequest,
    SelectionContext,
    Strategy,
    StrategyRequest,
    top_rows,
)
from learner.planning.strategies.diversity import spherical_kmeans


def margin_candidates(ctx: SelectionContext, limit: int) -> CandidateList:
    rows = np.flatnonzero(ctx.eligible)
    margin = ctx.stats["margin"][rows]
    picked = top_rows(margin, rows, limit, largest=False)
    top = ctx.stats["top_label"]
    reasons = [f"margin {ctx.stats['margin'][r]:.2f} between top labels ({ctx.label_names[top[r]]} first)"
               for r in picked]
    return CandidateList(picked, reasons, hint_labels=top[picked])


def cluster_margin_candidates(ctx: SelectionContext, n_clusters: int, limit: int, *,
                              top_factor: int = 10) -> CandidateList:
    """Cluster-margin: the ``top_factor * n_clusters`` smallest-margin rows are clustered
    (spherical k-means, ``n_clusters``) and ranked by their margin rank inside their cluster, then
    by margin: the most uncertain item of every cluster first, so uncertain picks are not
    near-copies of one confusion."""
    rows = np.flatnonzero(ctx.eligible)
    if ctx.embeddings is None or n_clusters <= 1:
        return margin_candidates(ctx, limit)
    margin = ctx.stats["margin"]
    top = top_rows(margin[rows], rows, max(limit, top_factor * n_clusters), largest=False)
    if len(top) <= n_clusters:
        return margin_candidates(ctx, limit)
    _, assign = spherical_kmeans(ctx.embeddings[top], n_clusters, ctx.rng)
    # ``top`` is sorted by margin, so a stable sort by cluster gives each cluster's margin order.
    order = np.argsort(assign, kind="stable")
    rank = np.empty(len(top), dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(assign[order])) + 1]
    rank[order] = np.arange(len(top)) - np.repeat(starts, np.diff(np.r_[starts, len(top)]))
    ranked = np.lexsort((np.arange(len(top)), rank))[:limit]
    picked = top[ranked]
    names = ctx.stats["top_label"]
    reasons = [f"margin {margin[r]:.2f} between top labels ({ctx.label_names[names[r]]} first), "
               f"most uncertain #{int(rank[i]) + 1} of its cluster" for r, i in zip(picked, ranked, strict=True)]
    return CandidateList(picked, reasons, hint_labels=names[picked])


def candidates(request: StrategyRequest) -> CandidateList:
    ctx, config = request.ctx, request.config
    if config.uncertainty == "cluster_margin":
        return cluster_margin_candidates(ctx, max(2, request.want), request.limit)
    return margin_candidates(ctx, request.limit)


STRATEGY = Strategy("uncertainty", candidates=candidates, cold_start=False, lead_settable=True,
                    description="items the model is least sure about (smallest top-2 margin)")

# Every item keeps at least this sampling size, so a sampled wave can reach (and estimate) all of them.
SAMPLED_FLOOR = 0.02


def sampled_draw(request: DrawRequest) -> DrawPlan:
    """Probability proportional to uncertainty, 1 − margin (at least SAMPLED_FLOOR): a fixed-size
    systematic PPS sample with exact inclusion probabilities (as in active testing), so that
    actively chosen labels can also enter unbiased estimates."""
    ctx = request.ctx
    size = np.maximum(1.0 - ctx.stats["margin"][request.population], SAMPLED_FLOOR)
    rows, pi = systematic_pps(request.population, size, request.k, ctx.rng)
    top, margin = ctx.stats["top_label"], ctx.stats["margin"]
    reasons = [f"drawn in proportion to uncertainty (margin {margin[r]:.2f}, {ctx.label_names[top[r]]} first)"
               for r in rows]
    return DrawPlan(rows, reasons, top[rows], {int(r): float(p) for r, p in zip(request.population, pi, strict=True)
                                               if p > 0})


SAMPLED_STRATEGY = Strategy("sampled_uncertainty", draw=sampled_draw, cold_start=False, lead_settable=True,
                            description="a sample with probability proportional to uncertainty (estimable)")
