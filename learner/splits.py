"""Stratified, group-aware train / validation / test splits that survive tiny classes.

Django-free: numpy only.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def group_stratified_split(
    y: Sequence,
    groups: Sequence | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    min_per_class: int = 4,
) -> np.ndarray:
    """Assign every row to "train", "val" or "test".

    - Group-aware: all rows sharing a group key (a duplicate group, or a user-given key) land in
      the same split. Without ``groups`` every row is its own group.
    - Stratified: groups are stratified by their most common label, and within each label the
      groups are dealt (shuffled, seeded) to whichever split is furthest below its share.
    - Tiny classes: a label with fewer than ``min_per_class`` rows (default 4, i.e. 1-3 examples)
      keeps all its groups in training; its validation / test metrics are then not estimable
      (see ``not_estimable``).
    """
    y = [str(v) for v in y]
    n = len(y)
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries but y has {n}")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or fractions.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative numbers, got {fractions.tolist()}")
    fractions = fractions / fractions.sum()
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out.astype(str)

    members: dict = defaultdict(list)
    keys = range(n) if groups is None else [("g", g) if g is not None and g != "" else ("row", i)
                                           for i, g in enumerate(groups)]
    for i, key in enumerate(keys):
        members[key].append(i)

    label_count = Counter(y)
    rare = {c for c, k in label_count.items() if k < min_per_class}
    strata: dict[str, list] = defaultdict(list)
    for key, rows in members.items():
        labels = Counter(y[i] for i in rows)
        if rare & set(labels):
            for i in rows:
                out[i] = "train"
            continue
        # Most common label; ties broken by name so the result does not depend on dict order.
        top = min(labels.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        strata[top].append(key)

    for label in sorted(strata):
        keys_of_label = strata[label]
        order = rng.permutation(len(keys_of_label))
        total = sum(len(members[keys_of_label[j]]) for j in order)
        filled = np.zeros(3)
        for j in order:
            rows = members[keys_of_label[j]]
            # Train is served first until it has one group, so every label is learnable.
            deficit = fractions * total - filled
            split = 0 if filled[0] == 0 else int(np.argmax(deficit))
            filled[split] += len(rows)
            for i in rows:
                out[i] = SPLITS[split]
    return out.astype(str)


def not_estimable(y: Sequence, split: np.ndarray, part: str = "val") -> list[str]:
    """Labels present in ``y`` with no row in ``part``: their metrics there cannot be estimated."""
    y = np.asarray([str(v) for v in y])
    present = set(y[split == part])
    return sorted(set(y) - present)


def group_kfold(y: Sequence, groups: Sequence | None = None, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) per row for cross-validation: groups stay whole, and each label's groups
    (by their most common label, shuffled, seeded) are dealt round-robin, the deal continuing from
    one label to the next so folds stay balanced in size as well as by label."""
    y = [str(v) for v in y]
    n = len(y)
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries but y has {n}")
    rng = np.random.default_rng(seed)
    members: dict = defaultdict(list)
    keys = range(n) if groups is None else [("g", g) if g is not None and g != "" else ("row", i)
                                           for i, g in enumerate(groups)]
    for i, key in enumerate(keys):
        members[key].append(i)
    strata: dict[str, list] = defaultdict(list)
    for key, rows in members.items():
        labels = Counter(y[i] for i in rows)
        strata[min(labels.items(), key=lambda kv: (-kv[1], kv[0]))[0]].append(key)
    fold = np.zeros(n, dtype=int)
    pointer = 0
    for label in sorted(strata):
        for j in rng.permutation(len(strata[label])):
            fold[members[strata[label][j]]] = pointer % k
            pointer += 1
    return fold
