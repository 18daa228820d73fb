"""``rules``: items matched by each label's keyword/regex rules, in random order per label,
labels interleaved (fewest labeled examples first), so every rule gets a turn."""
from __future__ import annotations

import numpy as np

from learner.planning.strategies.base import CandidateList, SelectionContext, Strategy, StrategyRequest, interleave


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
    picked, reasons, hints = interleave(lists, limit)
    return CandidateList(picked, reasons, hint_labels=hints)


def candidates(request: StrategyRequest) -> CandidateList:
    return rule_candidates(request.ctx, request.snapshot.rule_rows or {}, request.limit)


STRATEGY = Strategy("rules", candidates, cold_start=True, lead_settable=False,
                    description="items a label's keyword or regex rules match")
