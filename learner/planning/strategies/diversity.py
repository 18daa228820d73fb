"""``diversity``: spherical k-means over (a sample of) the eligible items, one item per cluster
(the one nearest its centroid), largest clusters first. Once a model exists, only the less certain
part of the pool is clustered (``PlannerConfig.diversity_focus``)."""
from __future__ import annotations

import math

import numpy as np

from learner.planning.strategies.base import CandidateList, SelectionContext, Strategy, StrategyRequest, top_rows


def spherical_kmeans(X: np.ndarray, k: int, rng: np.random.Generator, *, iters: int = 8):
    """Lloyd's k-means on the unit sphere (cosine), initialised from k distinct random rows.
    A few numpy matmuls: much faster here than scikit-learn's k-means++ for a few hundred clusters.
    Returns (centroids, assignment)."""
    centroids = X[rng.choice(len(X), k, replace=False)].copy()
    assign = np.zeros(len(X), dtype=np.int64)
    for _ in range(iters):
        assign = (X @ centroids.T).argmax(axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, X)
        norms = np.linalg.norm(sums, axis=1)
        keep = norms > 0  # an emptied cluster keeps its old centroid
        centroids[keep] = sums[keep] / norms[keep, None]
    assign = (X @ centroids.T).argmax(axis=1)
    return centroids, assign


def diversity_candidates(ctx: SelectionContext, n_clusters: int, *, subset: np.ndarray | None = None,
                         sample: int = 10000) -> CandidateList:
    """Spherical k-means over a sample of the eligible rows (or of ``subset``): at most
    ``sample`` rows and about 15 per cluster; from each cluster the member nearest its centroid,
    largest clusters first."""
    rows = np.flatnonzero(ctx.eligible) if subset is None else np.asarray(subset, dtype=np.int64)
    if ctx.embeddings is None or len(rows) == 0 or n_clusters <= 0:
        return CandidateList(np.zeros(0, dtype=np.int64), [])
    limit = min(sample, max(2000, 15 * n_clusters))
    if len(rows) > limit:
        rows = np.sort(ctx.rng.choice(rows, limit, replace=False))
    k = min(n_clusters, len(rows))
    X = ctx.embeddings[rows]
    centroids, assign = spherical_kmeans(X, k, ctx.rng)
    closeness = np.einsum("ij,ij->i", X, centroids[assign])
    sizes = np.bincount(assign, minlength=k)
    # Nearest member per cluster: sort by (cluster, -closeness) and take each cluster's first.
    order = np.lexsort((-closeness, assign))
    first = order[np.r_[True, assign[order][1:] != assign[order][:-1]]]
    first = first[np.argsort(-sizes[assign[first]], kind="stable")]
    picked = rows[first]
    reasons = [f"cluster {int(assign[i]) + 1} of {k} ({int(sizes[assign[i]])} items)" for i in first]
    hints = ctx.stats["top_label"][picked] if "top_label" in ctx.stats else None
    return CandidateList(picked, reasons, hint_labels=hints)


def candidates(request: StrategyRequest) -> CandidateList:
    ctx, config = request.ctx, request.config
    n_clusters = int(math.ceil(request.want * 1.5)) + 5
    subset = None
    if ctx.proba is not None and config.diversity_focus == "uncertain":
        # Once a model exists, spread picks over the less certain part of the pool: typical
        # items of well-learned regions teach the model little.
        rows = np.flatnonzero(ctx.eligible)
        n_focus = max(15 * n_clusters, int(0.3 * len(rows)))
        subset = top_rows(ctx.stats["margin"][rows], rows, n_focus, largest=False)
    return diversity_candidates(ctx, n_clusters, subset=subset, sample=config.diversity_sample)


STRATEGY = Strategy("diversity", candidates, cold_start=True, lead_settable=True, sized_last=True,
                    description="one item per cluster of the pool, largest clusters first")
