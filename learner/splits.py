"""Stratified, group-aware train / validation / test splits that survive tiny classes.

Django-free: numpy and hashlib only.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def _checked(y: Sequence, groups: Sequence | None, fractions) -> tuple[list[str], np.ndarray]:
    """The labels as text and the fractions normalised to sum 1; a groups list of another length
    than y, or fractions that are not three non-negative numbers with a positive sum, are refused."""
    y = [str(v) for v in y]
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries but y has {len(y)}")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or fractions.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative numbers, got {fractions.tolist()}")
    return y, fractions / fractions.sum()


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
    y, fractions = _checked(y, groups, fractions)
    n = len(y)
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


def stable_group_split(
    y: Sequence,
    groups: Sequence | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    min_per_class: int = 4,
) -> np.ndarray:
    """Assign every row to "train", "val" or "test" so that the split survives more labels.

    Same shares and rules as ``group_stratified_split`` (groups kept whole, stratified by a group's
    most common label, labels with fewer than ``min_per_class`` rows all in train, each stratum's
    first group in train), but a group's place does not come from a shuffle of the whole list: each
    group key (a duplicate group id, an item id) gets a seeded hash, and within a label stratum the
    groups, in hash order, are dealt by quota: a group of ``s`` rows after ``P`` rows of the stratum
    has its midpoint at ``m = P + s/2``; with ``T`` rows in the stratum it goes to train if
    ``m < f_train·T``, to val if ``m < (f_train + f_val)·T``, else to test. The first group in hash
    order always goes to train (with ``f_train > 0.5`` its midpoint puts it there anyway). So
    train, val and test are consecutive runs of the hash order, and the result depends on the set
    of (key, label) pairs and the seed, not on the order of the rows.

    Stability (midpoints of distinct groups lie at least one row apart, and one added row shifts
    the later midpoints by 1 and each cut by less than 1): adding or removing one labeled row,
    in a new group or an existing one, where its group's most common label and every label's side
    of ``min_per_class`` stay as they were, moves at most one OTHER group of its stratum across each
    of the two cuts, so at most 2 other groups in all, and none in any other stratum. Across the
    train / val cut a group moves between train and val, across the val / test cut between val and
    test; a group moves straight between test and train only in a stratum with fewer than
    ``1 / f_val`` rows without the row (10 at 0.8 / 0.1 / 0.1), whose val quota is under one row.
    (Adding or removing ``s`` rows at once moves at most ``s`` other groups across each cut. With
    ``f_train <= 0.5`` only, the forced place in train can move one more group, in or out of train
    from any split: the group that was first in hash order, or becomes first, when the changed
    group is or was first.) A row that changes its group's most common label
    takes the group out of one stratum and into another (a removal plus an addition of the
    group's rows); a row that brings a label to ``min_per_class`` rows, or below it, moves that
    label's groups (fewer than ``min_per_class``) out of, or into, train.

    Rows without a group key (``groups`` None, or a None / "" entry) are keyed by their position,
    which is stable only while rows are added at the end: pass item ids for those.

    A group whose most common label is a tie (one row ``billing``, one ``login``) joins the stratum
    of the smaller label: non-negative integers (as ints or their decimal text) by value, before
    any other text, which sorts as text. Pass labels that do not change while the split must hold:
    label ids, not names, where labels can be renamed (a rename would move tie groups, and with
    them both strata's cuts, to the other stratum).
    """
    y, fractions = _checked(y, groups, fractions)
    n = len(y)
    out = np.full(n, "train", dtype="<U5")
    if n == 0:
        return out

    members: dict = defaultdict(list)
    for i in range(n):
        key = None if groups is None else groups[i]
        members[("row", i) if key is None or key == "" else key].append(i)

    rare = {c for c, k in Counter(y).items() if k < min_per_class}
    strata: dict[str, list] = defaultdict(list)
    for key, rows in members.items():
        labels = Counter(y[i] for i in rows)
        if rare & set(labels):
            continue  # tiny label: the whole group stays in train
        # Most common label; ties go to the smaller label (_label_order) so the result does not
        # depend on row order.
        strata[min(labels.items(), key=lambda kv: (-kv[1], _label_order(kv[0])))[0]].append(key)

    # Cuts rounded so that a midpoint exactly on a cut (5 rows, 0.9 · 5 = 4.5) falls the same way
    # whatever the floating-point error of the product.
    cut_shares = np.cumsum(fractions)[:2]
    for keys_of_label in strata.values():
        ranked = sorted(keys_of_label, key=lambda k: (_key_hash(k, seed), _key_text(k)))
        sizes = np.asarray([len(members[k]) for k in ranked], dtype=np.float64)
        midpoints = np.cumsum(sizes) - sizes / 2
        cuts = np.round(cut_shares * sizes.sum(), 9)
        parts = np.searchsorted(cuts, midpoints, side="right")
        parts[0] = 0  # every label gets a train group first, so it is learnable
        for key, part in zip(ranked, parts, strict=True):
            out[members[key]] = SPLITS[part]
    return out


def _label_order(label: str) -> tuple:
    """A label's place in a tie: decimal integers (ids) by value, first; other labels by text."""
    if label.isascii() and label.isdigit():
        return (0, int(label), label)
    return (1, 0, label)


def _key_text(key) -> str:
    """A group key as text: integers (Python or numpy) alike, other keys by their str()."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return f"i:{int(key)}"
    if isinstance(key, tuple):  # a row without a key: ("row", position)
        return f"t:{key!r}"
    return f"s:{key}"


def _key_hash(key, seed: int) -> int:
    digest = hashlib.blake2b(f"{int(seed)}|{_key_text(key)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


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
