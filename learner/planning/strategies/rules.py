"""``rules`` (a draw): items matched by each label's keyword/regex rules. The slots go round-robin
over the labels with matches (fewest labeled examples first), and each label's share is a simple
random sample of its matches: k_l / N_l. An item two labels' rules match can be drawn by either."""
from __future__ import annotations

import numpy as np

from learner.planning.draws import DrawPlan, simple_random_sample, union_probability
from learner.planning.strategies.base import DrawRequest, Strategy


def round_robin_shares(sizes: dict[int, int], k: int) -> dict[int, int]:
    """k slots dealt one at a time over the labels in the given order, skipping full ones."""
    shares = dict.fromkeys(sizes, 0)
    while k > 0 and any(shares[lab] < n for lab, n in sizes.items()):
        for lab, n in sizes.items():
            if k > 0 and shares[lab] < n:
                shares[lab] += 1
                k -= 1
    return shares


def draw(request: DrawRequest) -> DrawPlan:
    ctx, rule_rows = request.ctx, request.snapshot.rule_rows or {}
    labels = sorted(rule_rows, key=lambda lab: (ctx.label_counts[lab] if len(ctx.label_counts) else 0, lab))
    matched = {lab: np.intersect1d(np.asarray(rule_rows[lab], dtype=np.int64), request.population) for lab in labels}
    shares = round_robin_shares({lab: len(matched[lab]) for lab in labels if len(matched[lab])}, request.k)
    drawn, reasons, hints, pis = [], [], [], {}
    for lab, k in shares.items():
        rows, pi = simple_random_sample(matched[lab], k, ctx.rng)
        for r in matched[lab].tolist():
            pis.setdefault(r, []).append(pi)
        drawn.extend(rows.tolist())
        reasons += [f"uniform draw from the {len(matched[lab])} items a rule of label {ctx.label_names[lab]} "
                    f"matches ({k} drawn)"] * len(rows)
        hints += [lab] * len(rows)
    return DrawPlan(np.array(drawn, dtype=np.int64), reasons, np.array(hints, dtype=np.int64),
                    {r: union_probability(p) for r, p in pis.items()})


STRATEGY = Strategy("rules", draw=draw, cold_start=True, lead_settable=False,
                    description="a sample of the items a label's keyword or regex rules match")
