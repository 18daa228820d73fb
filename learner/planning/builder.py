"""The state of one wave being planned (``WaveBuilder``): which duplicate groups are taken, how
many picks each predicted label and source has, and the picks themselves."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from learner.planning.config import FILL
from learner.planning.quotas import largest_remainder
from learner.planning.snapshot import PoolSnapshot
from learner.planning.strategies import CandidateList


@dataclass
class Pick:
    row: int  # index into the snapshot arrays
    item_id: object
    source: str
    strategy: str
    reason: str
    predicted_label: int | None  # label index (model's top label), None without a model
    predicted_prob: float | None
    hint_label: int | None  # label the strategy suspects (rare label, rule label, nearest name)
    likely_rare: bool
    # P(in the wave's estimation sample), the union of its draws (learner.planning.draws); None
    # for a ranked or fill pick, with the reason in ``design``.
    inclusion_prob: float | None = None
    # Drawn picks: {"pi": {draw: P(drawn by it)}, "drawn_by": [draws]}; others: {"no_pi": why}.
    design: dict = field(default_factory=dict)


@dataclass
class WavePlan:
    picks: list[Pick]
    report: dict
    cold_start: bool

    def __len__(self) -> int:
        return len(self.picks)


def _plain(value):
    """numpy scalars as plain Python values (ids end up in JSON and ORM filters)."""
    return value.item() if hasattr(value, "item") else value


class WaveBuilder:
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

    def add(self, row, strategy: str, reason: str, hint: int | None):
        self.reserve(row)
        pred = self.predicted(row)
        hint = None if hint is None or hint < 0 else int(hint)
        label = pred if pred is not None else hint
        self.picks.append(Pick(
            row=int(row), item_id=_plain(self.snapshot.item_ids[row]), source=self.sources[row], strategy=strategy,
            reason=reason, predicted_label=pred,
            predicted_prob=float(self.top_prob[row]) if self.top_prob is not None else None,
            hint_label=hint, likely_rare=bool(label is not None and label in self.rare_set)))
        self.per_source[self.sources[row]] += 1
        self.achieved[strategy] += 1

    def fill_by_strategies(self, budget: int, order: list[str], mix: dict[str, float],
                           queues: dict[str, list[int]], candidates: dict[str, CandidateList]) -> int:
        """Round-robin inside one stratum: each ranked strategy in turn takes its next admissible
        candidate until it has its share; the slots of a strategy that runs dry are re-split over
        the others by their shares. Returns how many slots were filled."""
        want = largest_remainder(budget, {k: mix[k] for k in order})
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
                for k, extra in largest_remainder(budget - filled, alive).items():
                    want[k] = got[k] + extra
        for k, items in chosen.items():
            for row, reason, hint in items:
                self.reserve(row, undo=True)
                self.add(row, k, reason, hint)
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
            self.add(row, FILL, "strategies ran dry; uniform fill", -1)
        return len(rows)
