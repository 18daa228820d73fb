"""Candidate generators for the wave planner: each strategy ranks pool rows (best first) and the
planner (learner/planner.py) takes from these rankings under quotas, caps and duplicate rules.

Pure numpy / scikit-learn, no Django. Every generator is vectorised over the pool; Python loops
only run over labels or over the short ranked lists the planner needs.

Strategies
- ``uncertainty`` (margin): smallest gap between the two most probable labels first.
- ``band``: items whose calibrated top-class probability lies in the project's band, in uniformly
  random order (so picks from it are a uniform sample of the band; inclusion probability k/N).
- ``rare``: for each rare label (fewer labeled examples than the threshold), rarest first, the
  unlabeled items with the highest probability of that label, alternating with the nearest
  neighbours (cosine) of its labeled examples.
- ``diversity``: k-means over (a sample of) the eligible items' embeddings, one item per cluster
  (the one nearest its centroid), largest clusters first.
- cold start: ``rules`` (items matched by a label's keyword/regex rules, labels interleaved) and
  ``label_names`` (items nearest each label's name/description embedding, labels interleaved).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from learner.scoring import score_stats


@dataclass
class CandidateList:
    """Pool rows ranked best-first for one strategy.

    ``hint_labels`` (same length, -1 for none) is the label a candidate is suspected to carry
    (the rare label it was found for, the rule's label, the nearest label name). ``uniform``
    means the order is a uniform random permutation of ``population`` eligible rows per source,
    so the planner reports inclusion probability picks/population; otherwise picks are
    deterministic given the model state and get inclusion probability 1.0.
    """

    rows: np.ndarray
    reasons: list[str]
    hint_labels: np.ndarray | None = None
    uniform: bool = False
    population_rows: np.ndarray | None = None  # for uniform lists: every row the order was drawn from

    def __post_init__(self):
        self.rows = np.asarray(self.rows, dtype=np.int64)
        if len(self.reasons) != len(self.rows):
            raise ValueError("CandidateList: one reason per row is required")
        if self.hint_labels is None:
            self.hint_labels = np.full(len(self.rows), -1, dtype=np.int64)
        else:
            self.hint_labels = np.asarray(self.hint_labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class SelectionContext:
    """What the generators read; built by the planner from its PoolSnapshot."""

    eligible: np.ndarray  # bool (n,)
    embeddings: np.ndarray | None  # float32 (n, d), L2-normalised
    proba: np.ndarray | None  # (n, K) calibrated
    label_names: list[str]
    label_counts: np.ndarray  # (K,)
    labeled_y: np.ndarray  # int (n,), label index of labeled rows, -1 otherwise
    rng: np.random.Generator
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    label_vectors: np.ndarray | None = None  # (K, d) label name/description embeddings


def top_rows(scores: np.ndarray, rows: np.ndarray, k: int, *, largest: bool = True) -> np.ndarray:
    """The k rows with the largest (or smallest) scores, sorted; ties broken by row order."""
    if k <= 0 or len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    values = scores if largest else -scores
    k = min(k, len(rows))
    if k < len(rows):
        part = np.argpartition(-values, k - 1)[:k]
    else:
        part = np.arange(len(rows))
    order = part[np.lexsort((rows[part], -values[part]))]
    return rows[order]


def _interleave(per_label: list[tuple[int, np.ndarray, list[str]]], limit: int):
    """Round-robin over labels (in the given order): first item of every label, then the second...
    Drops repeats of a row already listed. Returns rows, reasons, hint labels."""
    rows: list[int] = []
    reasons: list[str] = []
    hints: list[int] = []
    seen: set[int] = set()
    depth = max((len(r) for _, r, _ in per_label), default=0)
    for i in range(depth):
        for label, label_rows, label_reasons in per_label:
            if i < len(label_rows):
                row = int(label_rows[i])
                if row in seen:
                    continue
                seen.add(row)
                rows.append(row)
                reasons.append(label_reasons[i])
                hints.append(label)
                if len(rows) >= limit:
                    return np.array(rows, dtype=np.int64), reasons, np.array(hints, dtype=np.int64)
    return np.array(rows, dtype=np.int64), reasons, np.array(hints, dtype=np.int64)


def _stride_merge(per_label: list[tuple[int, np.ndarray, list[str]]], counts: np.ndarray, limit: int):
    """Merge per-label rankings so a label with c examples gets picks at rate 1 / (c + 1): the
    i-th item of label l has priority (i + 1) * (counts[l] + 1); ties keep the given label order."""
    keyed = []
    for order, (label, label_rows, label_reasons) in enumerate(per_label):
        step = float(counts[label]) + 1.0
        for i, row in enumerate(label_rows):
            keyed.append(((i + 1) * step, order, i, int(row), label_reasons[i], label))
    keyed.sort(key=lambda t: (t[0], t[1], t[2]))
    rows, reasons, hints, seen = [], [], [], set()
    for _, _, _, row, reason, label in keyed:
        if row in seen:
            continue
        seen.add(row)
        rows.append(row)
        reasons.append(reason)
        hints.append(label)
        if len(rows) >= limit:
            break
    return np.array(rows, dtype=np.int64), reasons, np.array(hints, dtype=np.int64)


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


def band_candidates(ctx: SelectionContext, band: tuple[float, float]) -> CandidateList:
    low, high = band
    top_prob = ctx.stats["top_prob"]
    in_band = ctx.eligible & (top_prob >= low) & (top_prob <= high)
    population = np.flatnonzero(in_band)
    order = ctx.rng.permutation(population)
    top = ctx.stats["top_label"]
    reasons = [f"top probability {top_prob[r]:.2f} inside band {low:.2f}-{high:.2f}" for r in order]
    return CandidateList(order, reasons, hint_labels=top[order], uniform=True, population_rows=population)


def rare_labels(label_counts: np.ndarray, threshold: int) -> np.ndarray:
    """Label indices with fewer labeled examples than ``threshold``, rarest first (stable)."""
    counts = np.asarray(label_counts)
    rare = np.flatnonzero(counts < threshold)
    return rare[np.argsort(counts[rare], kind="stable")]


def rare_candidates(ctx: SelectionContext, threshold: int, limit: int, *, per_label: int = 6,
                    max_queries: int = 256, unseen_depth: int = 2, allocation: str = "round_robin",
                    rank: str = "variance", knn_below: int | None = None) -> CandidateList:
    """Rare labels (fewer labeled examples than ``threshold``), rarest first. Labels with no
    example yet: up to ``unseen_depth`` neighbours of the label's name. Others: items ranked by
    that label's probability alternate with nearest neighbours of its labeled examples (max
    similarity to any of at most ``max_queries`` examples overall). ``allocation``: "stride" gives
    a label with c labeled examples picks at a rate proportional to 1 / (c + 1) (the i-th pick of a
    label gets priority i * (c + 1)); "round_robin" gives every rare label one pick per round.
    ``rank``: "probability" ranks by p(label); "variance" by p(label) * (1 - p(label)), the same
    order while p < 0.5 (a label the model barely knows) but, once the label is learned, items at
    its boundary instead of the ones the model is already sure of. ``knn_below``: search
    neighbours of labeled examples only for labels with fewer examples than this (None: all)."""
    rare = rare_labels(ctx.label_counts, threshold)
    rows = np.flatnonzero(ctx.eligible)
    if len(rare) == 0 or len(rows) == 0:
        return CandidateList(np.zeros(0, dtype=np.int64), [])
    weights = 1.0 / (ctx.label_counts[rare].astype(np.float64) + 1.0)
    depth = {int(lab): max(per_label, int(np.ceil(limit / len(rare))) + 1) for lab in rare}
    if allocation == "stride":
        for lab, w in zip(rare, weights, strict=True):
            depth[int(lab)] = min(limit, max(2, int(np.ceil(limit * w / weights.sum())) + 2))

    knn_score = None
    if ctx.embeddings is not None:
        knn_labels = rare if knn_below is None else rare[ctx.label_counts[rare] < knn_below]
        labeled_rows = np.flatnonzero(np.isin(ctx.labeled_y, knn_labels))
        if len(labeled_rows):
            # Spread the query budget evenly over rare labels so one frequent-ish label does not
            # crowd out the rarest ones.
            quota = max(1, max_queries // max(1, len(knn_labels)))
            chosen = []
            for label in knn_labels:
                members = labeled_rows[ctx.labeled_y[labeled_rows] == label]
                if len(members) > quota:
                    members = ctx.rng.choice(members, quota, replace=False)
                chosen.append(members)
            queries = np.concatenate(chosen)
            sims = ctx.embeddings[rows] @ ctx.embeddings[queries].T  # (eligible, queries)
            query_labels = ctx.labeled_y[queries]
            knn_score = {}
            for label in knn_labels:
                cols = np.flatnonzero(query_labels == label)
                if len(cols):
                    knn_score[int(label)] = sims[:, cols].max(axis=1)

    unseen = [int(lab) for lab in rare if ctx.label_counts[lab] == 0]
    name_score = None
    if unseen and ctx.label_vectors is not None and ctx.embeddings is not None:
        # A label nobody has labeled yet has no probability column worth ranking by and no
        # examples to search around: its name/description is the only lead.
        name_score = ctx.embeddings[rows] @ ctx.label_vectors[unseen].T

    unseen_lists, lists = [], []
    for label in rare:
        label = int(label)
        name = ctx.label_names[label]
        if ctx.label_counts[label] == 0:
            if name_score is None:
                continue
            col = name_score[:, unseen.index(label)]
            top = top_rows(col, rows, unseen_depth)
            pos = np.searchsorted(rows, top)
            unseen_lists.append((label, top, [f"rare label {name} (none labeled): near its name "
                                              f"(cos {col[p]:.2f})" for p in pos]))
            continue
        by_prob = np.zeros(0, dtype=np.int64)
        if ctx.proba is not None:
            p = ctx.proba[rows, label]
            by_prob = top_rows(p * (1.0 - p) if rank == "variance" else p, rows, (depth[label] + 1) // 2)
        by_knn = np.zeros(0, dtype=np.int64)
        if knn_score is not None and label in knn_score:
            by_knn = top_rows(knn_score[label], rows, (depth[label] + 1) // 2)
        merged, reasons = [], []
        for i in range(max(len(by_prob), len(by_knn))):
            if i < len(by_prob):
                merged.append(by_prob[i])
                reasons.append(f"rare label {name} ({ctx.label_counts[label]} labeled): "
                               f"p={ctx.proba[by_prob[i], label]:.2f}")
            if i < len(by_knn):
                merged.append(by_knn[i])
                reasons.append(f"rare label {name} ({ctx.label_counts[label]} labeled): "
                               f"near a labeled example")
        lists.append((label, np.array(merged, dtype=np.int64), reasons))
    # Labels nobody has labeled yet come first, each with up to ``unseen_depth`` name neighbours.
    first_rows, first_reasons, first_hints = _interleave(unseen_lists, limit)
    if allocation == "stride":
        rest_rows, rest_reasons, rest_hints = _stride_merge(lists, ctx.label_counts, limit)
    else:
        rest_rows, rest_reasons, rest_hints = _interleave(lists, limit)
    picked = np.concatenate([first_rows, rest_rows]).astype(np.int64)
    reasons = first_reasons + rest_reasons
    hints = np.concatenate([first_hints, rest_hints]).astype(np.int64)
    _, keep = np.unique(picked, return_index=True)
    keep = np.sort(keep)[:limit]
    return CandidateList(picked[keep], [reasons[i] for i in keep], hint_labels=hints[keep])


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


def label_name_candidates(ctx: SelectionContext, label_vectors: np.ndarray, limit: int, *,
                          per_label: int | None = None) -> CandidateList:
    """Items nearest each label's name/description embedding, labels interleaved."""
    rows = np.flatnonzero(ctx.eligible)
    if ctx.embeddings is None or label_vectors is None or len(rows) == 0:
        return CandidateList(np.zeros(0, dtype=np.int64), [])
    label_vectors = np.asarray(label_vectors, dtype=np.float32)
    k = label_vectors.shape[0]
    per_label = per_label or max(2, int(np.ceil(limit / max(1, k))) + 1)
    sims = ctx.embeddings[rows] @ label_vectors.T  # (eligible, K)
    lists = []
    for label in range(k):
        top = top_rows(sims[:, label], rows, per_label)
        col = sims[:, label]
        pos = np.searchsorted(rows, top)
        reasons = [f"near the name of label {ctx.label_names[label]} (cos {col[p]:.2f})" for p in pos]
        lists.append((label, top, reasons))
    picked, reasons, hints = _interleave(lists, limit)
    return CandidateList(picked, reasons, hint_labels=hints)


def rule_candidates(ctx: SelectionContext, rule_rows: dict[int, np.ndarray], limit: int) -> CandidateList:
    """Items matched by each label's rules, in random order per label, labels interleaved (labels
    with fewest labeled examples first), so every rule gets a turn."""
    if not rule_rows:
        return CandidateList(np.zeros(0, dtype=np.int64), [])
    labels = sorted(rule_rows, key=lambda lab: (ctx.label_counts[lab] if len(ctx.label_counts) else 0, lab))
    lists = []
    for label in labels:
        rows = np.asarray(rule_rows[label], dtype=np.int64)
        rows = rows[ctx.eligible[rows]]
        rows = ctx.rng.permutation(rows)
        lists.append((int(label), rows, [f"matches a rule of label {ctx.label_names[label]}"] * len(rows)))
    picked, reasons, hints = _interleave(lists, limit)
    return CandidateList(picked, reasons, hint_labels=hints)


def context_stats(proba: np.ndarray | None) -> dict[str, np.ndarray]:
    return score_stats(proba) if proba is not None else {}
