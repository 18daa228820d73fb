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
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from learner import selection
from learner.selection import CandidateList, SelectionContext

DEFAULT_MIX = {"rare": 0.4, "uncertainty": 0.3, "diversity": 0.2}
# Tuned with manage.py simulate (docs/simulation.md): with a wave of ~100 and ~80 labels, 0.6 gives
# every label a name neighbour in the first wave; rules, when a project has none, hand their share on.
DEFAULT_COLD_START_MIX = {"rules": 0.3, "label_names": 0.6, "diversity": 0.1}
STRATEGIES = ("rare", "uncertainty", "band", "diversity", "rules", "label_names")
RANDOM = "random"
FILL = "fill"


@dataclass
class PlannerConfig:
    wave_size: int = 1000
    strategy_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    cold_start_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COLD_START_MIX))
    random_share: float = 0.10
    # Share of each wave per source name. Missing/zero-quota sources share what the listed quotas
    # leave (1 - sum); with no positive quota at all, sources are not constrained.
    source_quotas: dict[str, float] | None = None
    label_cap_share: float = 0.25
    rare_threshold: int = 500
    band: tuple[float, float] = (0.30, 0.70)
    # How the "uncertainty" share ranks items: "margin" (smallest top-2 gap), "cluster_margin"
    # (k-means over the smallest-margin items, the most uncertain of each cluster first) or "band".
    uncertainty: str = "margin"
    # Adaptive mix: move ``rare_shift_share`` x (share of labels with at least this many labeled
    # examples) of the rare share to uncertainty; all of it once every label has them (None: never).
    rare_shift_after: int | None = None
    rare_shift_share: float = 1.0
    diversity_sample: int = 10000
    # With a model, cluster only the less certain part of the pool ("uncertain") or all of it ("all").
    diversity_focus: str = "uncertain"
    rare_max_queries: int = 256
    # How rare-label picks are shared among rare labels: "stride" (rate 1 / (labeled + 1)) or
    # "round_robin" (one per label per round, rarest first).
    rare_allocation: str = "round_robin"
    # Rank a rare label's candidates by "probability" p or by "variance" p (1 - p).
    rare_rank: str = "variance"
    # Name neighbours per rare label that has no labeled example yet.
    rare_unseen_depth: int = 2
    # Neighbours of labeled examples only for rare labels with fewer examples than this (None: all).
    rare_knn_below: int | None = None


@dataclass
class PoolSnapshot:
    """Row-aligned arrays describing every item the planner may consider (labeled ones included:
    their embeddings and labels feed the rare-label neighbour search)."""

    item_ids: np.ndarray
    label_names: list[str]
    labeled: np.ndarray | None = None  # bool: labeled, or otherwise never to be picked
    sources: np.ndarray | None = None  # str per row (None: one unnamed source)
    dup_groups: np.ndarray | None = None  # int per row; rows sharing a value are duplicates
    embeddings: np.ndarray | None = None  # float32 (n, d), L2-normalised
    proba: np.ndarray | None = None  # (n, K) calibrated; None = cold start
    labeled_y: np.ndarray | None = None  # int per row: label index of labeled rows, -1 otherwise
    label_counts: np.ndarray | None = None  # (K,) labeled examples per label (default from labeled_y)
    rule_rows: dict[int, np.ndarray] | None = None  # label index -> rows its rules match
    label_vectors: np.ndarray | None = None  # (K, d) embeddings of label name + description

    def __post_init__(self):
        self.item_ids = np.asarray(self.item_ids)
        n = len(self.item_ids)
        k = len(self.label_names)

        def check(name, arr, shape0=n):
            if arr is not None and len(arr) != shape0:
                raise ValueError(f"PoolSnapshot.{name} has {len(arr)} rows, expected {shape0}")

        self.labeled = np.zeros(n, bool) if self.labeled is None else np.asarray(self.labeled, bool)
        self.sources = (np.full(n, "", dtype=object) if self.sources is None
                        else np.asarray(self.sources, dtype=object))
        self.dup_groups = (np.arange(n, dtype=np.int64) if self.dup_groups is None
                           else np.asarray(self.dup_groups, dtype=np.int64))
        self.labeled_y = (np.full(n, -1, np.int64) if self.labeled_y is None
                          else np.asarray(self.labeled_y, np.int64))
        for name in ("labeled", "sources", "dup_groups", "embeddings", "proba", "labeled_y"):
            check(name, getattr(self, name))
        if self.proba is not None:
            self.proba = np.asarray(self.proba, dtype=np.float32)
            if self.proba.ndim != 2 or self.proba.shape[1] != k:
                raise ValueError(f"PoolSnapshot.proba must have shape ({n}, {k}), got {self.proba.shape}")
        if self.embeddings is not None:
            self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if self.label_counts is None:
            valid = self.labeled_y[(self.labeled_y >= 0)]
            self.label_counts = np.bincount(valid, minlength=k)[:k]
        else:
            self.label_counts = np.asarray(self.label_counts, dtype=np.int64)
            check("label_counts", self.label_counts, k)
        if self.label_vectors is not None:
            self.label_vectors = np.asarray(self.label_vectors, dtype=np.float32)
            check("label_vectors", self.label_vectors, k)

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass
class Pick:
    row: int  # index into the snapshot arrays
    item_id: object
    source: str
    strategy: str
    reason: str
    inclusion_prob: float
    predicted_label: int | None  # label index (model's top label), None without a model
    predicted_prob: float | None
    hint_label: int | None  # label the strategy suspects (rare label, rule label, nearest name)
    likely_rare: bool


@dataclass
class WavePlan:
    picks: list[Pick]
    report: dict
    cold_start: bool

    def __len__(self) -> int:
        return len(self.picks)


# --- helpers -------------------------------------------------------------------------------------
def _largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integers summing to ``total`` proportional to ``weights`` (ties by key order)."""
    keys = list(weights)
    w = np.array([max(0.0, float(weights[k])) for k in keys])
    if total <= 0 or not keys:
        return {k: 0 for k in keys}
    if w.sum() <= 0:
        w = np.ones(len(keys))
    exact = w / w.sum() * total
    base = np.floor(exact).astype(int)
    rest = total - base.sum()
    order = sorted(range(len(keys)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return {k: int(b) for k, b in zip(keys, base, strict=True)}


def _source_weights(source_names: list[str], quotas: dict[str, float] | None, report: dict) -> dict[str, float]:
    if not quotas or sum(max(0.0, float(q)) for q in quotas.values()) <= 0:
        return {}  # unconstrained
    listed = {s: max(0.0, float(quotas.get(s, 0.0))) for s in source_names}
    total = sum(listed.values())
    unquoted = [s for s, q in listed.items() if q <= 0]
    unknown = sorted(set(quotas) - set(source_names))
    if unknown:
        report["notes"].append(f"quota given for sources with no items in the pool: {', '.join(unknown)}")
    if total < 1.0 and unquoted:
        share = (1.0 - total) / len(unquoted)
        for s in unquoted:
            listed[s] = share
    return listed


def _source_targets(size: int, weights: dict[str, float], available: dict[str, int], report: dict) -> dict[str, int]:
    """Split ``size`` over sources by ``weights``; a source that runs dry gives its excess to the
    others in proportion to their weights (repeated until feasible). Every move is reported."""
    if not weights:
        return {}
    targets = _largest_remainder(size, weights)
    report["source_requested"] = dict(targets)
    for _ in range(len(weights) + 1):
        dry = {s: t - available.get(s, 0) for s, t in targets.items() if t > available.get(s, 0)}
        if not dry:
            break
        for s in dry:
            targets[s] = available.get(s, 0)
        excess = sum(dry.values())
        open_sources = {s: max(weights[s], 1e-9) for s in targets if targets[s] < available.get(s, 0)}
        extra = _largest_remainder(excess, open_sources) if open_sources else {}
        # Room is limited by availability; what does not fit is handled in the next round.
        for s, e in extra.items():
            targets[s] += e
        for s, short in dry.items():
            report["redistributed"].append({
                "source": s, "requested": report["source_requested"][s], "available": available.get(s, 0),
                "moved": short, "to": {t: e for t, e in extra.items() if e},
                "reason": f"source {s or '(none)'} ran dry: {available.get(s, 0)} eligible items"})
        if not open_sources:
            report["notes"].append(f"{excess} slots could not be placed: every source ran dry")
            break
    return targets


def _build_candidates(snapshot: PoolSnapshot, config: PlannerConfig, mix: dict[str, float], ctx: SelectionContext,
                      slots: dict[str, int]) -> dict[str, CandidateList]:
    cands: dict[str, CandidateList] = {}
    # Diversity last: its cluster count follows the slots it will really get once strategies
    # without any candidate (no rules, no label vectors) have handed theirs on.
    for strategy in sorted(mix, key=lambda k: k == "diversity"):
        want = slots.get(strategy, 0)
        if want <= 0:
            continue
        if strategy == "diversity":
            alive = {k: mix[k] for k in mix if k not in cands or len(cands[k]) > 0}
            want = _largest_remainder(sum(slots.values()), alive).get("diversity", want)
        # Overshoot: caps, duplicates, quotas and other strategies remove some candidates.
        limit = max(4 * want, want + 50)
        if strategy == "uncertainty":
            if config.uncertainty == "band":
                cands[strategy] = selection.band_candidates(ctx, config.band)
            elif config.uncertainty == "cluster_margin":
                cands[strategy] = selection.cluster_margin_candidates(ctx, max(2, want), limit)
            else:
                cands[strategy] = selection.margin_candidates(ctx, limit)
        elif strategy == "band":
            cands[strategy] = selection.band_candidates(ctx, config.band)
        elif strategy == "rare":
            cands[strategy] = selection.rare_candidates(ctx, config.rare_threshold, limit,
                                                        max_queries=config.rare_max_queries,
                                                        allocation=config.rare_allocation, rank=config.rare_rank,
                                                        unseen_depth=config.rare_unseen_depth,
                                                        knn_below=config.rare_knn_below)
        elif strategy == "diversity":
            n_clusters = int(math.ceil(want * 1.5)) + 5
            subset = None
            if ctx.proba is not None and config.diversity_focus == "uncertain":
                # Once a model exists, spread picks over the less certain part of the pool: typical
                # items of well-learned regions teach the model little.
                rows = np.flatnonzero(ctx.eligible)
                n_focus = max(15 * n_clusters, int(0.3 * len(rows)))
                subset = selection.top_rows(ctx.stats["margin"][rows], rows, n_focus, largest=False)
            cands[strategy] = selection.diversity_candidates(ctx, n_clusters, subset=subset,
                                                             sample=config.diversity_sample)
        elif strategy == "rules":
            cands[strategy] = selection.rule_candidates(ctx, snapshot.rule_rows or {}, limit)
        elif strategy == "label_names":
            cands[strategy] = selection.label_name_candidates(ctx, snapshot.label_vectors, limit)
        else:
            raise ValueError(f"unknown strategy {strategy!r} in the mix; known: {', '.join(STRATEGIES)}")
    return cands


# --- the planner ---------------------------------------------------------------------------------
def _plain(value):
    """numpy scalars as plain Python values (ids end up in JSON and ORM filters)."""
    return value.item() if hasattr(value, "item") else value


class _WaveBuilder:
    """The state of one wave being planned: which duplicate groups are taken, how many picks
    each predicted label and source has, and the picks themselves."""

    def __init__(self, snapshot: PoolSnapshot, eligible: np.ndarray, group_of: np.ndarray, n_groups: int,
                 sources: np.ndarray, top_label, top_prob, rare_set: set, cap: int):
        self.snapshot = snapshot
        self.eligible = eligible
        self.group_of = group_of
        self.sources = sources
        self.top_label = top_label
        self.top_prob = top_prob
        self.rare_set = rare_set
        self.cap = cap
        self.taken_group = np.zeros(n_groups, bool)
        self.label_used: Counter = Counter()
        self.per_source: Counter = Counter()
        self.achieved: Counter = Counter()
        self.cap_skips = 0
        self.picks: list[Pick] = []

    def predicted(self, row) -> int | None:
        return int(self.top_label[row]) if self.top_label is not None else None

    def taken(self, row) -> bool:
        return bool(self.taken_group[self.group_of[row]])

    def under_cap(self, row) -> bool:
        pred = self.predicted(row)
        return pred is None or self.label_used[pred] < self.cap

    def reserve(self, row, undo: bool = False):
        step = -1 if undo else 1
        self.taken_group[self.group_of[row]] = not undo
        pred = self.predicted(row)
        if pred is not None:
            self.label_used[pred] += step

    def add(self, row, strategy: str, reason: str, prob: float, hint: int | None):
        self.reserve(row)
        pred = self.predicted(row)
        hint = None if hint is None or hint < 0 else int(hint)
        label = pred if pred is not None else hint
        self.picks.append(Pick(
            row=int(row), item_id=_plain(self.snapshot.item_ids[row]), source=self.sources[row], strategy=strategy,
            reason=reason, inclusion_prob=float(prob), predicted_label=pred,
            predicted_prob=float(self.top_prob[row]) if self.top_prob is not None else None,
            hint_label=hint, likely_rare=bool(label is not None and label in self.rare_set)))
        self.per_source[self.sources[row]] += 1
        self.achieved[strategy] += 1

    def fill_by_strategies(self, budget: int, order: list[str], mix: dict[str, float],
                           queues: dict[str, list[int]], candidates: dict[str, CandidateList], prob_of) -> int:
        """Round-robin inside one stratum: each strategy in turn takes its next admissible
        candidate until it has its share; the slots of a strategy that runs dry are re-split over
        the others by their shares. ``prob_of(strategy, row, n_taken)`` gives the inclusion
        probability. Returns how many slots were filled."""
        want = _largest_remainder(budget, {k: mix[k] for k in order})
        got: Counter = Counter()
        pointers = {k: 0 for k in order}
        chosen: dict[str, list[tuple]] = defaultdict(list)
        filled = 0
        while filled < budget:
            progressed = False
            for k in order:
                if filled >= budget:
                    break
                if got[k] >= want[k]:
                    continue
                cl, queue = candidates.get(k), queues[k]
                while pointers[k] < len(queue):
                    pos = queue[pointers[k]]
                    pointers[k] += 1
                    row = int(cl.rows[pos])
                    if self.taken(row) or not self.eligible[row]:
                        continue
                    if not self.under_cap(row):
                        self.cap_skips += 1
                        continue
                    chosen[k].append((row, cl.reasons[pos], int(cl.hint_labels[pos])))
                    self.reserve(row)  # the Pick is added below, once the strategy's count is known
                    got[k] += 1
                    filled += 1
                    progressed = True
                    break
            if not progressed:
                alive = {k: mix[k] for k in order if pointers[k] < len(queues[k])}
                if not alive:
                    break
                for k, extra in _largest_remainder(budget - filled, alive).items():
                    want[k] = got[k] + extra
        for k, items in chosen.items():
            for row, reason, hint in items:
                self.reserve(row, undo=True)
                self.add(row, k, reason, prob_of(k, row, got[k]), hint)
        return filled

    def fill_uniform(self, left: np.ndarray, short: int, stratum: str, rng, notes: list[str]):
        """Uniform fill from ``left`` (eligible, untaken rows), honouring the cap while possible."""
        left = rng.permutation(left)
        rows = []
        for row in left:
            if len(rows) >= short:
                break
            if self.under_cap(row):
                rows.append(row)
                self.reserve(row)
        for row in rows:
            self.reserve(row, undo=True)
        if len(rows) < short:
            chosen = set(rows)
            rest = [r for r in left if r not in chosen][: short - len(rows)]
            if rest:
                notes.append(f"label cap relaxed for {len(rest)} fill items in {stratum or '(none)'}")
            rows += rest
        for row in rows:
            self.add(row, FILL, "strategies ran dry; uniform fill", len(rows) / max(1, len(left)), -1)
        return len(rows)


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
    weights = _source_weights(source_names, config.source_quotas, report)
    targets = _source_targets(size, weights, available, report)
    constrained = bool(targets)
    if not constrained:  # one stratum per source, sized by availability, for the random slice only
        targets = _largest_remainder(size, {s: available[s] for s in source_names})

    stats = selection.context_stats(snapshot.proba)
    ctx = SelectionContext(eligible=eligible, embeddings=snapshot.embeddings, proba=snapshot.proba,
                           label_names=list(snapshot.label_names), label_counts=snapshot.label_counts,
                           labeled_y=snapshot.labeled_y, rng=rng, stats=stats,
                           label_vectors=snapshot.label_vectors)
    rare_set = set(selection.rare_labels(snapshot.label_counts, config.rare_threshold).tolist())
    # Never below an even share per label: a cap that every label together cannot meet would only
    # turn strategy picks into uniform fill.
    n_labels = max(1, len(snapshot.label_names))
    cap = (max(1, int(math.floor(config.label_cap_share * size)), math.ceil(size / n_labels))
           if config.label_cap_share > 0 else size)
    wave = _WaveBuilder(snapshot, eligible, group_of, len(groups), sources, stats.get("top_label"),
                        stats.get("top_prob"), rare_set, cap)

    # 1. Random slice: uniform within each source stratum, exact inclusion probability k_s / N_s.
    n_random = int(round(config.random_share * size))
    random_per_source = _largest_remainder(n_random, {s: targets.get(s, 0) for s in source_names})
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
        candidates = _build_candidates(snapshot, config, mix, ctx, _largest_remainder(size - len(wave.picks), mix))
    order = [s for s in ("rules", "rare", "label_names", "uncertainty", "band", "diversity") if s in mix]
    order += [s for s in mix if s not in order]
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
        requested.update(_largest_remainder(budget, {k: mix[k] for k in order}))
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


def _report(report: dict, wave: _WaveBuilder, snapshot: PoolSnapshot, order: list[str], requested: Counter,
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


def cut_batches(picks: list[Pick], batch_size: int, *, seed: int = 0) -> list[list[Pick]]:
    """Cut a wave into batches of at most ``batch_size``; likely-rare picks are dealt round-robin
    over the batches first (so each batch holds some while there are enough), then the rest fill
    the remaining room; each batch is shuffled so strategy and rarity are not visible from order."""
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    if not picks:
        return []
    rng = np.random.default_rng(seed)
    n_batches = math.ceil(len(picks) / batch_size)
    capacity = [batch_size] * n_batches
    capacity[-1] = len(picks) - batch_size * (n_batches - 1)
    rare = [picks[i] for i in rng.permutation(len(picks)) if picks[i].likely_rare]
    other = [picks[i] for i in rng.permutation(len(picks)) if not picks[i].likely_rare]
    batches: list[list[Pick]] = [[] for _ in range(n_batches)]
    b = 0
    for p in rare:
        for _ in range(n_batches):  # next batch with room
            if len(batches[b]) < capacity[b]:
                break
            b = (b + 1) % n_batches
        batches[b].append(p)
        b = (b + 1) % n_batches
    for p in other:
        while len(batches[b]) >= capacity[b]:
            b = (b + 1) % n_batches
        batches[b].append(p)
    return [[batch[i] for i in rng.permutation(len(batch))] for batch in batches]


def plan_to_dict(plan: WavePlan) -> dict:
    """JSON-ready form (for logs and the simulation)."""
    return {"cold_start": plan.cold_start, "report": plan.report, "picks": [asdict(p) for p in plan.picks]}
