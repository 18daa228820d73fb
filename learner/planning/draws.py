"""Probability draws with known inclusion probabilities, the planner's estimation sample.

A wave is planned in two parts. First the *draws*: the random slice and every strategy that
samples (rules, band, diversity, sampled uncertainty) draws its slots from its own population,
independently of the other draws, so that every row's probability of being drawn is known
exactly: ``pi[row]`` of each draw. A row two draws both pick counts once (the second draw's slot
goes to the ranked strategies). Then the *ranked* strategies (rare, margin uncertainty, label
names) and the uniform fill take the remaining slots; their picks are not a probability sample
and carry no inclusion probability.

The wave's estimation sample is the union of the draws. Draws are independent, so a row's
probability of being in it is ``1 - prod(1 - pi_d)`` over the draws whose population holds it
(:func:`union_probability`): that is the ``inclusion_prob`` a drawn pick carries. Horvitz-Thompson
sums over the sample with these probabilities are unbiased for the eligible pool
(tests/learner/test_inclusion_probabilities.py checks them by Monte Carlo over seeds).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DrawPlan:
    """One draw in one source stratum: the rows it drew (in draw order, with reason and suspected
    label) and the probability of every row of its population to be drawn."""

    drawn: np.ndarray
    reasons: list[str]
    hint_labels: np.ndarray
    pi: dict[int, float] = field(default_factory=dict)  # population row -> P(drawn by this draw)

    def __post_init__(self):
        self.drawn = np.asarray(self.drawn, dtype=np.int64)
        self.hint_labels = (np.full(len(self.drawn), -1, dtype=np.int64) if self.hint_labels is None
                            else np.asarray(self.hint_labels, dtype=np.int64))
        if len(self.reasons) != len(self.drawn) or len(self.hint_labels) != len(self.drawn):
            raise ValueError("DrawPlan: one reason and one hint label per drawn row")

    @classmethod
    def empty(cls) -> DrawPlan:
        return cls(np.zeros(0, dtype=np.int64), [], None)


def simple_random_sample(population: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """k rows drawn uniformly without replacement (in random order) and their common inclusion
    probability k / N (all of them, probability 1, when k >= N)."""
    population = np.asarray(population, dtype=np.int64)
    k = min(int(k), len(population))
    if k <= 0:
        return population[:0], 0.0
    return rng.choice(population, k, replace=False), k / len(population)


def pps_probabilities(size: np.ndarray, k: int) -> np.ndarray:
    """Inclusion probabilities proportional to ``size`` for a fixed sample of ``k``: k·s_i/Σs,
    with units that would exceed 1 taken with certainty and the rest rescaled (repeated until
    none exceeds 1)."""
    size = np.asarray(size, dtype=np.float64)
    if (size < 0).any() or not np.isfinite(size).all():
        raise ValueError("sizes must be finite and non-negative")
    k = min(int(k), int((size > 0).sum()))
    pi = np.zeros(len(size))
    if k <= 0:
        return pi
    certain = np.zeros(len(size), bool)
    while True:
        rest = ~certain & (size > 0)
        left = k - certain.sum()
        pi[certain] = 1.0
        pi[rest] = left * size[rest] / size[rest].sum()
        over = rest & (pi >= 1.0)
        if not over.any():
            return np.minimum(pi, 1.0)
        certain |= over


def systematic_pps(population: np.ndarray, size: np.ndarray, k: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-size sample with inclusion probabilities proportional to ``size`` (systematic
    sampling over a random order: each row's probability is exactly its ``pps_probabilities``
    value). Returns (drawn rows, the population's inclusion probabilities)."""
    population = np.asarray(population, dtype=np.int64)
    pi = pps_probabilities(size, k)
    order = rng.permutation(len(population))
    edges = np.concatenate([[0.0], np.cumsum(pi[order])])
    n = int(round(edges[-1]))
    if n <= 0:
        return population[:0], pi
    points = rng.uniform(0.0, 1.0) + np.arange(n)
    # Row j is drawn when a point falls in [edges[j], edges[j + 1]): at most once, as pi <= 1.
    hit = np.searchsorted(edges, points, side="right") - 1
    return population[order[np.unique(hit[(hit >= 0) & (hit < len(order))])]], pi


def union_probability(pis: list[float]) -> float:
    """P(drawn by at least one of several independent draws)."""
    miss = 1.0
    for p in pis:
        miss *= 1.0 - float(p)
    return 1.0 - miss
