"""``label_names``: the items nearest each label's name/description embedding, labels
interleaved (the cold start's hint about labels nobody has labeled yet)."""
from __future__ import annotations

import numpy as np

from learner.planning.strategies.base import (
    CandidateList,
    SelectionContext,
    Strategy,
    StrategyRequest,
    interleave,
    top_rows,
)


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
    picked, reasons, hints = interleave(lists, limit)
    return CandidateList(picked, reasons, hint_labels=hints)


def candidates(request: StrategyRequest) -> CandidateList:
    return label_name_candidates(request.ctx, request.snapshot.label_vectors, request.limit)


STRATEGY = Strategy("label_names", candidates=candidates, cold_start=True, lead_settable=False,
                    description="items nearest each label's name and description")
