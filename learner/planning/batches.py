"""Cutting a planned wave into annotator batches."""
from __future__ import annotations

import math

import numpy as np

from learner.planning.builder import Pick


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
