"""``diversity`` (a draw): one item from each of the largest clusters of the pool (spherical
k-means), central members likelier. Once a model exists, only the less certain part of the pool
is clustered (``PlannerConfig.diversity_focus``). ``spherical_kmeans`` also serves cluster-margin."""
from __future__ import annotations

import math

import numpy as np

from learner.planning.draws import DrawPlan
from learner.planning.strategies.base import DrawRequest, Strategy, top_rows


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


# Within a cluster, a member's draw weight is exp(CENTRALITY · (cos to centroid − the best cos)):
# central members are likelier (a cluster's typical item), yet every member has a known chance.
CENTRALITY = 20.0


def draw(request: DrawRequest) -> DrawPlan:
    """Spherical k-means over a sample of the population (clusters fixed by the snapshot's design
    seed, so every plan of one snapshot samples within the same clusters), every population row
    assigned to its nearest centroid; one row drawn from each of the ``k`` largest clusters, with
    probability proportional to its draw weight (``CENTRALITY``): pi = w_i / sum of its cluster."""
    ctx, config, k = request.ctx, request.config, request.k
    rows = np.asarray(request.population, dtype=np.int64)
    if ctx.embeddings is None or len(rows) == 0 or k <= 0:
        return DrawPlan.empty()
    n_clusters = min(len(rows), int(math.ceil(k * 1.5)) + 5)
    if ctx.proba is not None and config.diversity_focus == "uncertain":
        # Once a model exists, spread draws over the less certain part of the pool: typical items
        # of well-learned regions teach the model little.
        n_focus = max(15 * n_clusters, int(0.3 * len(rows)))
        rows = np.sort(top_rows(ctx.stats["margin"][rows], rows, n_focus, largest=False))
    limit = min(config.diversity_sample, max(2000, 15 * n_clusters))
    fit_rows = np.sort(request.design_rng.choice(rows, limit, replace=False)) if len(rows) > limit else rows
    centroids, _ = spherical_kmeans(ctx.embeddings[fit_rows], min(n_clusters, len(fit_rows)), request.design_rng)
    sims = ctx.embeddings[rows] @ centroids.T
    assign = sims.argmax(axis=1)
    closeness = sims[np.arange(len(rows)), assign]
    sizes = np.bincount(assign, minlength=len(centroids))
    chosen = np.argsort(-sizes, kind="stable")[:min(k, int((sizes > 0).sum()))]
    drawn, reasons, pis = [], [], {}
    for rank, cluster in enumerate(chosen, start=1):
        members = np.flatnonzero(assign == cluster)
        weight = np.exp(CENTRALITY * (closeness[members] - closeness[members].max()))
        pi = weight / weight.sum()
        pick = members[ctx.rng.choice(len(members), p=pi)]
        drawn.append(int(rows[pick]))
        reasons.append(f"drawn from cluster {rank} of {len(chosen)} largest ({len(members)} items), "
                       f"central members likelier")
        pis.update({int(r): float(p) for r, p in zip(rows[members], pi, strict=True)})
    drawn = np.array(drawn, dtype=np.int64)
    hints = ctx.stats["top_label"][drawn] if "top_label" in ctx.stats else None
    return DrawPlan(drawn, reasons, hints, pis)


STRATEGY = Strategy("diversity", draw=draw, cold_start=True, lead_settable=True,
                    description="one item drawn from each of the largest clusters of the pool")
