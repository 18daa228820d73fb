"""Integer shares of a wave: strategy slots by the mix and source slots by the quotas, with
dry sources handing their slots on (every move reported)."""
from __future__ import annotations

import numpy as np

# Quotas are typed by people ("0.33, 0.33, 0.34") or stored rounded (a third is 0.333333): quotas
# within this of 1 add up to 1. The product's checks (labeling.projects.shares) use the same value,
# so what they accept as "adds up to 1" is planned as a full set of quotas.
QUOTA_TOLERANCE = 0.01
# Remainders this close count as equal (the same quota gives bit-identical shares; this only
# absorbs float noise).
_TIE = 1e-9


def largest_remainder(total: int, weights: dict[str, float], turn: int = 0) -> dict[str, int]:
    """Integers summing to ``total`` proportional to ``weights``.

    Slots left after the floors go to the largest remainders. Where equal remainders compete for
    fewer slots than they are, ``turn`` (a wave's number) decides in rotation: in wave ``w`` the
    tied keys (in key order) from position ``w × slots`` on get them, so over consecutive waves
    every tied key gets its turn instead of the first name every time. The split stays a fixed
    function of its inputs (no randomness), so the inclusion probabilities the planner records
    for a wave, k_s / N_s for its design, stay exact."""
    keys = list(weights)
    w = np.array([max(0.0, float(weights[k])) for k in keys])
    if total <= 0 or not keys:
        return {k: 0 for k in keys}
    if w.sum() <= 0:
        w = np.ones(len(keys))
    exact = w / w.sum() * total
    base = np.floor(exact).astype(int)
    rest = total - base.sum()
    frac = exact - base
    order = sorted(range(len(keys)), key=lambda i: (-frac[i], i))
    if 0 < rest < len(keys):
        cut = frac[order[rest - 1]]
        tied = [i for i in order if abs(frac[i] - cut) <= _TIE]  # in key order: sorted is stable
        sure = [i for i in order[:rest] if frac[i] > cut + _TIE]
        need = rest - len(sure)
        start = (int(turn) * need) % len(tied)
        order = sure + [tied[(start + j) % len(tied)] for j in range(need)]
    for i in order[:rest]:
        base[i] += 1
    return {k: int(b) for k, b in zip(keys, base, strict=True)}


def source_weights(source_names: list[str], quotas: dict[str, float] | None, report: dict,
                   available: dict[str, int] | None = None) -> dict[str, float]:
    """Share of the wave per source. Sources without a quota share what the quotas leave; items
    with no source at all ("") get their share of the eligible pool even when the quotas add up
    to 1 (the quotas then apply to the rest), so they are never silently left out.

    A source with a quota but no items in the pool keeps its share here, so that it runs dry in
    ``source_targets`` like any emptied source: its slots go to the other sources in proportion
    to their quotas, and the move is reported. Dropping it instead would leave the quotas short
    of 1 and hand its share to the zero-quota sources, which the lead asked for none of. When
    every source with a quota is empty, the zero-quota sources fill the wave (in equal shares,
    as for any wave whose quota sources all ran dry), every move reported: a wave the annotators
    can work beats an empty one, and the report says why it looks the way it does."""
    if not quotas or sum(max(0.0, float(q)) for q in quotas.values()) <= 0:
        return {}  # unconstrained
    present = set(source_names)
    unknown = sorted(s for s, q in quotas.items() if s not in present and float(q) > 0)
    listed = {s: max(0.0, float(quotas.get(s, 0.0))) for s in [*source_names, *unknown]}
    total = sum(listed.values())
    unquoted = [s for s, q in listed.items() if q <= 0]
    if unknown:
        report["notes"].append(f"quota given for sources with no items in the pool: {', '.join(unknown)}; "
                               "their slots go to the other sources (see redistributed)")
    available = available or {}
    full = total >= 1.0 - QUOTA_TOLERANCE  # 0.333333 × 3 adds up to 1, as the product's checks say
    if "" in unquoted and full and available.get("", 0) > 0:
        none_share = available[""] / max(1, sum(available.values()))
        listed = {s: q * (1.0 - none_share) / total for s, q in listed.items()}
        listed[""] = none_share
        report["notes"].append(f"{available['']} eligible items have no source: they get their share of the pool "
                               f"({none_share:.1%} of the wave); the source quotas apply to the rest")
        return listed
    if not full and unquoted:
        share = (1.0 - total) / len(unquoted)
        for s in unquoted:
            listed[s] = share
    return listed


def source_targets(size: int, weights: dict[str, float], available: dict[str, int], report: dict,
                   turn: int = 0) -> dict[str, int]:
    """Split ``size`` over sources by ``weights``; a source that runs dry gives its excess to the
    others in proportion to their weights (repeated until feasible). Every move is reported.
    ``turn``: the wave's number, which rotates the odd slot among equal quotas (largest_remainder)."""
    if not weights:
        return {}
    targets = largest_remainder(size, weights, turn)
    report["source_requested"] = dict(targets)
    for _ in range(len(weights) + 1):
        dry = {s: t - available.get(s, 0) for s, t in targets.items() if t > available.get(s, 0)}
        if not dry:
            break
        for s in dry:
            targets[s] = available.get(s, 0)
        excess = sum(dry.values())
        open_sources = {s: max(weights[s], 1e-9) for s in targets if targets[s] < available.get(s, 0)}
        extra = largest_remainder(excess, open_sources, turn) if open_sources else {}
        # Room is limited by availability; what does not fit is handled in the next round.
        for s, e in extra.items():
            targets[s] += e
        for s, short in dry.items():
            report["redistributed"].append({
                "source": s, "requested": report["source_requested"][s], "available": available.get(s, 0),
                "moved": short, "to": {t: e for t, e in extra.items() if e},
                "reason": (f"source {s or '(none)'} ran dry: {available.get(s, 0)} eligible items" if s in available
                           else f"source {s} has no items in the pool")})
        if not open_sources:
            report["notes"].append(f"{excess} slots could not be placed: every source ran dry")
            break
    return targets
