"""``rare``: candidates for the rare labels (fewer labeled examples than the threshold), rarest
first: a label nobody has labeled yet gets the neighbours of its name; the others get items ranked
by that label's probability alternating with the nearest neighbours of its labeled examples."""
from __future__ import annotations

import numpy as np

from learner.planning.strategies.base import (
    CandidateList,
    SelectionContext,
    Strategy,
    StrategyRequest,
    interleave,
    stride_merge,
    top_rows,
)


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
    first_rows, first_reasons, first_hints = interleave(unseen_lists, limit)
    if allocation == "stride":
        rest_rows, rest_reasons, rest_hints = stride_merge(lists, ctx.label_counts, limit)
    else:
        rest_rows, rest_reasons, rest_hints = interleave(lists, limit)
    picked = np.concatenate([first_rows, rest_rows]).astype(np.int64)
    reasons = first_reasons + rest_reasons
    hints = np.concatenate([first_hints, rest_hints]).astype(np.int64)
    _, keep = np.unique(picked, return_index=True)
    keep = np.sort(keep)[:limit]
    return CandidateList(picked[keep], [reasons[i] for i in keep], hint_labels=hints[keep])


def candidates(request: StrategyRequest) -> CandidateList:
    config = request.config
    return rare_candidates(request.ctx, config.rare_threshold, request.limit, max_queries=config.rare_max_queries,
                           allocation=config.rare_allocation, rank=config.rare_rank,
                           unseen_depth=config.rare_unseen_depth, knn_below=config.rare_knn_below)


STRATEGY = Strategy("rare", candidates=candidates, cold_start=True, lead_settable=True,
                    description="likely members of labels with few labeled examples, rarest first")
