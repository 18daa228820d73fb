"""The wave planner: a pure function from a snapshot of the pool to a wave.

Input (:class:`PoolSnapshot`) is a set of row-aligned arrays: item ids, sources, duplicate groups,
which rows are already labeled (or otherwise off limits), embeddings, calibrated probabilities
(None before the first model: cold start), rule matches and label-name vectors. Configuration
(:class:`PlannerConfig`) carries the wave size, strategy mix, random share, source quotas and the
per-label cap. :func:`plan_wave` returns a :class:`WavePlan`: every pick with the strategy that
chose it, why, its inclusion probability, and a JSON-ready report (requested vs achieved shares,
redistributed quotas with reasons, composition source x strategy x predicted label).
:func:`cut_batches` cuts a wave into annotator batches with the likely-rare items spread out.

Inclusion probabilities (so that importance weighting downstream is honest):
- random slice: drawn uniformly without replacement within its source stratum, k_s of N_s
  eligible duplicate groups, so every eligible item of source s had probability k_s / N_s;
- ``band`` and ``rules`` draw uniformly from their candidate set per source: k / N of that set;
- margin uncertainty, rare-label, diversity, label-name picks and the fill are deterministic
  given the model state and seed: reported as 1.0 (the item would be picked every time).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict

import numpy as np

from learner.planning.builder import WaveBuilder, WavePlan
from learner.planning.config import FILL, RANDOM, PlannerConfig
from learner.planning.quotas import largest_remainder, source_targets, source_weights
from learner.planning.snapshot import PoolSnapshot
from learner.planning.strategies import STRATEGIES, CandidateList, SelectionContext, StrategyRequest, strategy
from learner.planning.strategies.base import context_stats
from learner.planning.strategies.rare import rare_labels


def _build_candidates(snapshot: PoolSnapshot, config: PlannerConfig, mix: dict[str, float], ctx: SelectionContext,
                      slots: dict[str, int]) -> dict[str, CandidateList]:
    """Each strategy of the mix ranks its candidates (the registry's generator, one signature).
    Strategies run in the mix's order (their random draws share ``ctx.rng``), the ``sized_last``
    ones at the end: their size follows the slots they will really get once strategies without
    any candidate (no rules, no label vectors) have handed theirs on."""
    cands: dict[str, CandidateList] = {}
    for name in sorted(mix, key=lambda k: strategy(k).sized_last):
        entry = strategy(name)
        want = slots.get(name, 0)
        if want <= 0:
            continue
        if ctx.proba is None and not entry.cold_start:
            cands[name] = CandidateList(np.zeros(0, dtype=np.int64), [])  # it needs a model's probabilities
            continue
        if entry.sized_last:
            alive = {k: mix[k] for k in mix if k not in cands or len(cands[k]) > 0}
            want = largest_remainder(sum(slots.values()), alive).get(name, want)
        # Overshoot: caps, duplicates, quotas and other strategies remove some candidates.
        limit = max(4 * want, want + 50)
        cands[name] = entry.candidates(StrategyRequest(ctx=ctx, snapshot=snapshot, config=config, want=want,
                                                       limit=limit))
    return cands


# --- the planner ---------------------------------------------------------------------------------
def plan_wave(snapshot: PoolSnapshot, config: PlannerConfig | None = None, *, seed: int = 0,
              candidates: dict[str, CandidateList] | None = None) -> WavePlan:
    """Plan one wave. Deterministic for a given snapshot, config and seed."""
    config = config or PlannerConfig()
    rng = np.random.default_rng(seed)
    cold = snapshot.proba is None
    mix = dict(config.cold_start_mix if cold else config.strategy_mix)
    mix = {k: float(v) for k, v in mix.items() if float(v) > 0}
    shift_note = None
    if not cold and config.rare_shift_after is not None and "rare" in mix and len(snapshot.label_counts):
        covered = float(np.mean(snapshot.label_counts >= config.rare_shift_after))
        moved = mix["rare"] * min(1.0, max(0.0, config.rare_shift_share)) * covered
        if moved > 0:
            mix["rare"] -= moved
            mix["uncertainty"] = mix.get("uncertainty", 0.0) + moved
            mix = {k: v for k, v in mix.items() if v > 1e-9}
            shift_note = (f"{covered:.0%} of labels have at least {config.rare_shift_after} labeled examples: "
                          f"{moved:.2f} of the wave moved from the rare share to uncertainty")
    report: dict = {"cold_start": cold, "wave_size_requested": int(config.wave_size), "notes": [],
                    "redistributed": [], "strategy_mix": mix, "random_share": config.random_share}
    if shift_note:
        report["notes"].append(shift_note)

    # Eligibility: not labeled, and no duplicate of a labeled item; one row per duplicate group.
    groups, group_of = np.unique(snapshot.dup_groups, return_inverse=True)
    group_labeled = np.zeros(len(groups), bool)
    group_labeled[group_of[snapshot.labeled]] = True
    eligible = ~snapshot.labeled & ~group_labeled[group_of]
    elig_rows = np.flatnonzero(eligible)
    # Representative of each eligible group: its first eligible row (random slice draws groups).
    _, first = np.unique(group_of[elig_rows], return_index=True)
    reps = elig_rows[first]

    source_names = sorted({str(s) for s in snapshot.sources})
    sources = snapshot.sources.astype(str)
    rep_sources = sources[reps]
    available = {s: int((rep_sources == s).sum()) for s in source_names}
    size = min(int(config.wave_size), len(reps))
    if size < config.wave_size:
        report["notes"].append(f"only {len(reps)} eligible items (one per duplicate group) for a wave of "
                               f"{config.wave_size}")
    weights = source_weights(source_names, config.source_quotas, report)
    targets = source_targets(size, weights, available, report)
    constrained = bool(targets)
    if not constrained:  # one stratum per source, sized by availability, for the random slice only
        targets = largest_remainder(size, {s: available[s] for s in source_names})

    stats = context_stats(snapshot.proba)
    ctx = SelectionContext(eligible=eligible, embeddings=snapshot.embeddings, proba=snapshot.proba,
                           label_names=list(snapshot.label_names), label_counts=snapshot.label_counts,
                           labeled_y=snapshot.labeled_y, rng=rng, stats=stats,
                           label_vectors=snapshot.label_vectors)
    rare_set = set(rare_labels(snapshot.label_counts, config.rare_threshold).tolist())
    # Never below an even share per label: a cap that every label together cannot meet would only
    # turn strategy picks into uniform fill.
    n_labels = max(1, len(snapshot.label_names))
    cap = (max(1, int(math.floor(config.label_cap_share * size)), math.ceil(size / n_labels))
           if config.label_cap_share > 0 else size)
    wave = WaveBuilder(snapshot, eligible, group_of, len(groups), sources, stats.get("top_label"),
                        stats.get("top_prob"), rare_set, cap)

    # 1. Random slice: uniform within each source stratum, exact inclusion probability k_s / N_s.
    n_random = int(round(config.random_share * size))
    random_per_source = largest_remainder(n_random, {s: targets.get(s, 0) for s in source_names})
    for s in source_names:
        k = min(random_per_source.get(s, 0), available[s])
        if k <= 0:
            continue
        pool_s = reps[rep_sources == s]
        for row in np.sort(rng.choice(pool_s, k, replace=False)):
            wave.add(row, RANDOM, f"uniform random slice of source {s or '(none)'} ({k} of {len(pool_s)})",
                     k / len(pool_s), -1)

    # 2. Strategy slots per source, by the mix.
    if candidates is None:
        candidates = _build_candidates(snapshot, config, mix, ctx, largest_remainder(size - len(wave.picks), mix))
    # Strategies take turns in the registry's order.
    for name in mix:
        strategy(name)  # an unknown name fails here, with the known ones listed
    order = [s for s in STRATEGIES if s in mix]
    strata = source_names if constrained else ["*"]
    queues: dict[str, dict[str, list[int]]] = {s: {k: [] for k in order} for s in strata}
    population: dict[tuple[str, str], int] = {}
    for k in order:
        cl = candidates.get(k)
        if cl is None or len(cl) == 0:
            continue
        for pos, src in enumerate(sources[cl.rows]):
            queues[src if constrained else "*"][k].append(pos)
        if cl.uniform and cl.population_rows is not None:
            pop_sources = sources[cl.population_rows]
            for s in source_names:
                population[(k, s)] = int((pop_sources == s).sum())
            population[(k, "*")] = len(cl.population_rows)

    def prob_of(k, row, n_taken):
        # Uniform candidate orders (band, rules): picks / population of that stratum; else 1.0.
        if not candidates[k].uniform:
            return 1.0
        pop = population.get((k, sources[row] if constrained else "*"), 0) or len(candidates[k])
        return min(1.0, n_taken / max(1, pop))

    requested = Counter()
    for stratum in strata:
        budget = (targets.get(stratum, 0) - wave.per_source[stratum]) if constrained else size - len(wave.picks)
        if budget <= 0:
            continue
        requested.update(largest_remainder(budget, {k: mix[k] for k in order}))
        short = budget - wave.fill_by_strategies(budget, order, mix, queues[stratum], candidates, prob_of)
        if short > 0:
            # 3. Every strategy ran dry here: fill uniformly from what is left in this stratum.
            left = reps[~wave.taken_group[group_of[reps]]]
            if constrained:
                left = left[sources[left] == stratum]
            n_fill = wave.fill_uniform(left, short, stratum, rng, report["notes"])
            report["notes"].append(f"strategies ran dry in {stratum if constrained else 'the pool'}: "
                                   f"{n_fill} uniform fill items")
    return WavePlan(picks=wave.picks, report=_report(report, wave, snapshot, order, requested, n_random, targets,
                                                     source_names, constrained), cold_start=cold)


def _report(report: dict, wave: WaveBuilder, snapshot: PoolSnapshot, order: list[str], requested: Counter,
            n_random: int, targets: dict, source_names: list[str], constrained: bool) -> dict:
    picks = wave.picks
    report["wave_size"] = len(picks)
    report["label_cap"] = wave.cap
    report["cap_skips"] = wave.cap_skips
    report["strategy_requested"] = {RANDOM: n_random, **{k: int(requested.get(k, 0)) for k in order}}
    report["strategy_achieved"] = {RANDOM: int(wave.achieved.get(RANDOM, 0)),
                                   **{k: int(wave.achieved.get(k, 0)) for k in order}}
    if wave.achieved.get(FILL):
        report["strategy_achieved"][FILL] = int(wave.achieved[FILL])
    for k in order:
        if report["strategy_achieved"][k] < report["strategy_requested"][k]:
            report["notes"].append(f"strategy {k} filled {report['strategy_achieved'][k]} of "
                                   f"{report['strategy_requested'][k]} slots; the rest went to the other strategies")
    report["source_targets"] = {s: int(targets.get(s, 0)) for s in source_names} if constrained else None
    report["source_achieved"] = {s: int(wave.per_source[s]) for s in source_names}
    names = snapshot.label_names
    comp = Counter((p.source, p.strategy, None if p.predicted_label is None else names[p.predicted_label])
                   for p in picks)
    report["composition"] = [{"source": s, "strategy": k, "predicted_label": lab, "count": c}
                             for (s, k, lab), c in sorted(comp.items(), key=lambda x: (x[0][0], x[0][1], str(x[0][2])))]
    report["likely_rare"] = sum(p.likely_rare for p in picks)
    return report


def plan_to_dict(plan: WavePlan) -> dict:
    """JSON-ready form (for logs and the simulation)."""
    return {"cold_start": plan.cold_start, "report": plan.report, "picks": [asdict(p) for p in plan.picks]}
