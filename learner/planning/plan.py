"""The wave planner: a pure function from a snapshot of the pool to a wave.

Input (:class:`PoolSnapshot`) is a set of row-aligned arrays: item ids, sources, duplicate groups,
which rows are already labeled (or otherwise off limits), embeddings, calibrated probabilities
(None before the first model: cold start), rule matches and label-name vectors. Configuration
(:class:`PlannerConfig`) carries the wave size, strategy mix, random share, source quotas and the
per-label cap. :func:`plan_wave` returns a :class:`WavePlan`: every pick with the strategy that
chose it, why, its inclusion probability, and a JSON-ready report (requested vs achieved shares,
redistributed quotas with reasons, composition source x strategy x predicted label).
:func:`cut_batches` cuts a wave into annotator batches with the likely-rare items spread out.

Inclusion probabilities: the random slice and the strategies that draw (rules, band, diversity,
sampled uncertainty) form the wave's estimation sample; a pick of it carries the exact probability
of being in that sample (learner.planning.draws). Ranked picks (rare, margin uncertainty, label
names) and the uniform fill carry None, with the reason in ``Pick.design``.
"""
from __future__ import annotations

import math
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict

import numpy as np

from learner.planning.builder import Pick, WaveBuilder, WavePlan
from learner.planning.config import FILL, RANDOM, PlannerConfig
from learner.planning.draws import simple_random_sample, union_probability
from learner.planning.quotas import largest_remainder, source_targets, source_weights
from learner.planning.snapshot import PoolSnapshot
from learner.planning.strategies import (
    STRATEGIES,
    CandidateList,
    DrawRequest,
    SelectionContext,
    StrategyRequest,
    strategy,
)
from learner.planning.strategies.base import context_stats
from learner.planning.strategies.rare import rare_labels


def _build_candidates(snapshot: PoolSnapshot, config: PlannerConfig, ranked: dict[str, float], ctx: SelectionContext,
                      slots: dict[str, int]) -> dict[str, CandidateList]:
    """Each ranked strategy of the mix ranks its candidates (the registry's generator, one
    signature). Strategies run in the mix's order (their random draws share ``ctx.rng``), the
    ``sized_last`` ones at the end."""
    cands: dict[str, CandidateList] = {}
    for name in sorted(ranked, key=lambda k: strategy(k).sized_last):
        entry = strategy(name)
        want = slots.get(name, 0)
        if want <= 0:
            continue
        if ctx.proba is None and not entry.cold_start:
            cands[name] = CandidateList(np.zeros(0, dtype=np.int64), [])  # it needs a model's probabilities
            continue
        # Overshoot: caps, duplicates, quotas and other strategies remove some candidates.
        limit = max(4 * want, want + 50)
        cands[name] = entry.candidates(StrategyRequest(ctx=ctx, snapshot=snapshot, config=config, want=want,
                                                       limit=limit))
    return cands


def snapshot_seed(snapshot: PoolSnapshot) -> int:
    """A seed that depends on the snapshot, not on the wave: what a draw must keep fixed across
    plans of one snapshot (the clusters a diversity draw samples within) is seeded by it."""
    ids = np.asarray(snapshot.item_ids)
    # crc32, not hash(): Python salts str hashes per process, and a plan must not depend on which
    # worker made it
    ids = ids.astype(np.int64) if ids.dtype.kind in "iu" else np.array([zlib.crc32(str(i).encode()) for i in ids],
                                                                       dtype=np.int64)
    return zlib.crc32(ids.tobytes() + np.packbits(snapshot.labeled).tobytes())


def _mix(snapshot: PoolSnapshot, config: PlannerConfig, cold: bool, report: dict) -> dict[str, float]:
    mix = {k: float(v) for k, v in (config.cold_start_mix if cold else config.strategy_mix).items() if float(v) > 0}
    if config.uncertainty == "band" and "uncertainty" in mix:  # the old spelling of a band share
        mix["band"] = mix.get("band", 0.0) + mix.pop("uncertainty")
    for name in mix:
        strategy(name)  # an unknown name fails here, with the known ones listed
    if not cold and config.rare_shift_after is not None and "rare" in mix and len(snapshot.label_counts):
        covered = float(np.mean(snapshot.label_counts >= config.rare_shift_after))
        moved = mix["rare"] * min(1.0, max(0.0, config.rare_shift_share)) * covered
        if moved > 0:
            mix["rare"] -= moved
            mix["uncertainty"] = mix.get("uncertainty", 0.0) + moved
            mix = {k: v for k, v in mix.items() if v > 1e-9}
            report["notes"].append(f"{covered:.0%} of labels have at least {config.rare_shift_after} labeled examples: "
                                   f"{moved:.2f} of the wave moved from the rare share to uncertainty")
    report["strategy_mix"] = mix
    return mix


# --- the planner ---------------------------------------------------------------------------------
def plan_wave(snapshot: PoolSnapshot, config: PlannerConfig | None = None, *, seed: int = 0) -> WavePlan:
    """Plan one wave. Deterministic for a given snapshot, config and seed.

    1. the random slice: a simple random sample of each source's eligible items (one per
       duplicate group), sized by the source's share of the wave;
    2. the draws (rules, band, diversity, sampled uncertainty): each draws its slots of each
       stratum from its own population, independently of the other draws;
    3. the ranked strategies take turns on the slots left (a draw whose row another draw already
       took leaves its slot to them), under the per-label cap;
    4. a uniform fill where every strategy ran dry.
    Picks of 1 and 2 form the estimation sample: each carries its inclusion probability."""
    config = config or PlannerConfig()
    rng = np.random.default_rng(seed)
    design_seed = snapshot_seed(snapshot)
    cold = snapshot.proba is None
    report: dict = {"cold_start": cold, "wave_size_requested": int(config.wave_size), "notes": [],
                    "redistributed": [], "random_share": config.random_share}
    mix = _mix(snapshot, config, cold, report)

    # Eligibility: not labeled, and no duplicate of a labeled item; one row per duplicate group.
    groups, group_of = np.unique(snapshot.dup_groups, return_inverse=True)
    group_labeled = np.zeros(len(groups), bool)
    group_labeled[group_of[snapshot.labeled]] = True
    eligible = ~snapshot.labeled & ~group_labeled[group_of]
    elig_rows = np.flatnonzero(eligible)
    # Representative of each eligible group: its first eligible row (what every draw samples).
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
    weights = source_weights(source_names, config.source_quotas, report, available)
    targets = source_targets(size, weights, available, report, config.wave_number)
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
    pis: dict[int, dict[str, float]] = defaultdict(dict)  # row -> {draw: P(drawn by it)}
    drawn_by: dict[int, list[str]] = defaultdict(list)

    # 1. Random slice: a simple random sample of each source stratum, k_s / N_s. k_s is fixed by the
    # design before any draw (equal shares take the odd slot in turn by wave number, not by chance),
    # so k_s / N_s is the exact probability for this wave.
    n_random = int(round(config.random_share * size))
    random_per_source = largest_remainder(n_random, {s: targets.get(s, 0) for s in source_names},
                                         config.wave_number)
    for s in source_names:
        pool_s = reps[rep_sources == s]
        rows, pi = simple_random_sample(pool_s, min(random_per_source.get(s, 0), available[s]), rng)
        for row in pool_s.tolist() if len(rows) else []:
            pis[row][RANDOM] = pi
        for row in np.sort(rows):
            drawn_by[int(row)].append(RANDOM)
            wave.add(row, RANDOM, f"uniform random slice of source {s or '(none)'} ({len(rows)} of {len(pool_s)})",
                     -1)

    order = [s for s in STRATEGIES if s in mix]
    draws = [s for s in order if strategy(s).draws]
    ranked = [s for s in order if not strategy(s).draws]
    strata = source_names if constrained else ["*"]
    slots = {st: largest_remainder(((targets.get(st, 0) - wave.per_source[st]) if constrained
                                    else size - len(wave.picks)), {k: mix[k] for k in order}) for st in strata}
    requested = Counter()
    for st in strata:
        requested.update(slots[st])

    # 2. The draws, stratum by stratum, each over the stratum's eligible items.
    report["draws"] = {}
    for name in draws:
        entry, tally = strategy(name), Counter()
        for st in strata:
            k = slots[st].get(name, 0)
            if k <= 0 or (cold and not entry.cold_start):
                continue
            population = reps if not constrained else reps[rep_sources == st]
            design_rng = np.random.default_rng([design_seed, zlib.crc32(f"{name}|{st}".encode())])
            plan = entry.draw(DrawRequest(ctx=ctx, snapshot=snapshot, config=config, k=k, population=population,
                                          stratum=st, design_rng=design_rng))
            for row, pi in plan.pi.items():
                pis[row][name] = pi
            tally.update(slots=k, drawn=len(plan.drawn))
            for row, reason, hint in zip(plan.drawn.tolist(), plan.reasons, plan.hint_labels.tolist(), strict=True):
                drawn_by[row].append(name)
                if wave.taken(row):
                    tally.update(coincided=1)  # already in the wave: its slot goes to the ranked strategies
                    continue
                wave.add(row, name, reason, hint)
        report["draws"][name] = dict(tally)

    # 3. Ranked strategies on the slots left, stratum by stratum.
    candidates = _build_candidates(snapshot, config, {k: mix[k] for k in ranked}, ctx,
                                   largest_remainder(size - len(wave.picks), {k: mix[k] for k in ranked}))
    queues: dict[str, dict[str, list[int]]] = {st: {k: [] for k in ranked} for st in strata}
    for k in ranked:
        for pos, src in enumerate(sources[candidates[k].rows] if k in candidates else []):
            queues[src if constrained else "*"][k].append(pos)
    for st in strata:
        budget = (targets.get(st, 0) - wave.per_source[st]) if constrained else size - len(wave.picks)
        if budget <= 0:
            continue
        filled = wave.fill_by_strategies(budget, ranked, mix, queues[st], candidates) if ranked else 0
        if budget - filled > 0:
            # 4. Every strategy ran dry here: fill uniformly from what is left in this stratum.
            left = reps[~wave.taken_group[group_of[reps]]]
            if constrained:
                left = left[sources[left] == st]
            n_fill = wave.fill_uniform(left, budget - filled, st, rng, report["notes"])
            report["notes"].append(f"strategies ran dry in {st if constrained else 'the pool'}: "
                                   f"{n_fill} uniform fill items")
    _attach_probabilities(wave.picks, pis, drawn_by)
    return WavePlan(picks=wave.picks, report=_report(report, wave, snapshot, order, requested, n_random, targets,
                                                     source_names, constrained), cold_start=cold)


def _attach_probabilities(picks: list[Pick], pis: dict, drawn_by: dict) -> None:
    for pick in picks:
        if drawn_by.get(pick.row):
            pick.inclusion_prob = union_probability(pis[pick.row].values())
            pick.design = {"pi": {k: round(v, 9) for k, v in pis[pick.row].items()}, "drawn_by": drawn_by[pick.row]}
        elif pick.strategy == FILL:
            pick.design = {"no_pi": "uniform fill of what the other strategies left: not a draw of its own"}
        else:
            pick.design = {"no_pi": f"ranked by {pick.strategy}: the top items by score, not a probability draw"}


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
