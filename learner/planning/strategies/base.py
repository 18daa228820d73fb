"""What every selection strategy shares: the ranked ``CandidateList`` a strategy returns, the
``SelectionContext`` it reads, the one request signature (``StrategyRequest``), the ``Strategy``
record the registry holds, and ranking helpers. Pure numpy."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from learner.planning.draws import DrawPlan
from learner.scoring import score_stats

if TYPE_CHECKING:  # annotations only: the planner imports the strategies, not the reverse
    from learner.planning.config import PlannerConfig
    from learner.planning.snapshot import PoolSnapshot


@dataclass
class CandidateList:
    """Pool rows ranked best-first for one strategy.

    ``hint_labels`` (same length, -1 for none) is the label a candidate is suspected to carry
    (the rare label it was found for, the rule's label, the nearest label name).
    """

    rows: np.ndarray
    reasons: list[str]
    hint_labels: np.ndarray | None = None

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


@dataclass
class StrategyRequest:
    """Everything a strategy may use to rank candidates: ``want`` is the slots it will fill,
    ``limit`` how many candidates to return (an overshoot: caps, duplicates and quotas drop some)."""

    ctx: SelectionContext
    snapshot: PoolSnapshot
    config: PlannerConfig
    want: int
    limit: int


@dataclass
class DrawRequest:
    """A draw's slots in one source stratum: ``population`` are the rows it may draw from (the
    stratum's eligible rows, one per duplicate group), ``k`` how many to draw. ``ctx.rng`` draws;
    ``design_rng`` (seeded by the snapshot, not the wave) shapes what must not change between
    plans of one snapshot, such as the clusters a diversity draw samples within."""

    ctx: SelectionContext
    snapshot: PoolSnapshot
    config: PlannerConfig
    k: int
    population: np.ndarray
    stratum: str
    design_rng: np.random.Generator


@dataclass(frozen=True)
class Strategy:
    """One entry of the registry (``learner.planning.strategies.STRATEGIES``).

    A strategy either *draws* (``draw``: a probability sample of its population, each row's
    inclusion probability known, see learner.planning.draws) or *ranks* (``candidates``: rows best
    first; its picks carry no inclusion probability). ``cold_start``: it works without a model, so
    it may serve the first wave (one without it gets nothing before the first model).
    ``lead_settable``: leads may give it a share of the project's mix. ``sized_last``: a ranked
    strategy whose candidate count follows the slots the others really get."""

    name: str
    cold_start: bool
    lead_settable: bool
    description: str
    candidates: Callable[[StrategyRequest], CandidateList] | None = None
    draw: Callable[[DrawRequest], DrawPlan] | None = None
    sized_last: bool = False

    def __post_init__(self):
        if (self.candidates is None) == (self.draw is None):
            raise ValueError(f"strategy {self.name!r} must either draw or rank candidates")

    @property
    def draws(self) -> bool:
        return self.draw is not None


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


def interleave(per_label: list[tuple[int, np.ndarray, list[str]]], limit: int):
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


def stride_merge(per_label: list[tuple[int, np.ndarray, list[str]]], counts: np.ndarray, limit: int):
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


def context_stats(proba: np.ndarray | None) -> dict[str, np.ndarray]:
    return score_stats(proba) if proba is not None else {}
