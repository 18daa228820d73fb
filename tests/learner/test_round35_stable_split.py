"""Round 35: the export's split is stable as labeling goes on (learner.splits.stable_group_split).

Same shares and rules as group_stratified_split, but one more labeled row moves at most two other
groups of its stratum, one across each cut, and no test group into train."""
from collections import Counter

import numpy as np
import pytest

from learner.splits import stable_group_split

FRACTIONS = (0.8, 0.1, 0.1)
ORDER = {"train": 0, "val": 1, "test": 2}


def grouped_rows(n, labels=("billing", "login", "fraud"), seed=0):
    """n rows; about a third of the groups hold two or three rows (duplicates share a label)."""
    rng = np.random.default_rng(seed)
    y, groups, key = [], [], 1
    while len(y) < n:
        size = min(int(rng.choice([1, 1, 1, 2, 3])), n - len(y))
        label = labels[int(rng.integers(len(labels)))]
        y += [label] * size
        groups += [key] * size
        key += 1
    return y, groups


def split_of_group(y, groups, **kwargs):
    split = stable_group_split(y, groups, FRACTIONS, **kwargs)
    return {g: str(s) for g, s in zip(groups, split, strict=True)}


def moved_between(before, after, skip):
    return {g: (before[g], after[g]) for g in before if g != skip and g in after and before[g] != after[g]}


def test_shares_close_to_the_fractions_per_label():
    y, groups = grouped_rows(600)
    split = stable_group_split(y, groups, FRACTIONS)
    for label in set(y):
        rows = [i for i, v in enumerate(y) if v == label]
        counts = Counter(split[rows].tolist())
        for part, share in zip(("train", "val", "test"), FRACTIONS, strict=True):
            # A cut falls inside a group of at most 3 rows: each share is off by under 3 rows.
            assert abs(counts[part] - share * len(rows)) < 3, (label, counts, len(rows))


def test_groups_stay_together_tiny_labels_train_and_every_label_starts_in_train():
    y, groups = grouped_rows(400)
    y += ["tiny"] * 3 + ["solo", "pair", "pair", "pair", "pair"]
    groups += [9001, 9002, 9003, 9004, 9005, 9005, 9006, 9007]
    split = stable_group_split(y, groups, FRACTIONS, seed=3)
    parts = {}
    for g, s in zip(groups, split, strict=True):
        parts.setdefault(g, set()).add(str(s))
    assert all(len(p) == 1 for p in parts.values())
    assert split[-8:-4].tolist() == ["train"] * 4  # "tiny" (3 rows) and "solo" (1 row)
    # A label with 4 rows in 3 groups is dealt; with a train share under a half the first group in
    # hash order still goes to train, so the label is learnable.
    wide = stable_group_split(y, groups, (0.2, 0.4, 0.4), seed=3)
    for label in set(y):
        assert "train" in {str(s) for s, v in zip(wide, y, strict=True) if v == label}, label


def test_one_more_row_moves_at_most_two_other_groups_and_no_test_group_into_train():
    y, groups = grouped_rows(400, seed=1)
    start = 250
    worst = 0
    for n in range(start, len(y)):
        # Row n is either a new group or joins the group of row n - 1 (same label).
        before = split_of_group(y[:n], groups[:n])
        after = split_of_group(y[: n + 1], groups[: n + 1])
        moved = moved_between(before, after, skip=groups[n])
        label = y[n]
        assert all(y[groups.index(g)] == label for g in moved), "a group of another stratum moved"
        assert len(moved) <= 2, (n, moved)
        # Removing the row again is the same comparison the other way round.
        assert ("test", "train") not in moved.values() and ("train", "test") not in moved.values()
        worst = max(worst, len(moved))
    assert worst >= 1  # the check is not vacuous: cuts do move


def test_a_three_row_group_moves_at_most_three_other_groups_per_cut():
    y, groups = grouped_rows(300, seed=2)
    for k in range(20):
        extra = [y[0]] * 3
        before = split_of_group(y, groups)
        after = split_of_group(y + extra, groups + [5000 + k] * 3)
        moved = moved_between(before, after, skip=5000 + k)
        assert len(moved) <= 6 and ("test", "train") not in moved.values()


def test_doubling_the_labels_keeps_nearly_all_of_the_first_test_set_out_of_train():
    # Step by step a test group can only reach train through val; over 300 more rows that takes a
    # group whose hash sits by the cuts. The 1 % bound was set looking at data seeds 0-99, so it is
    # judged on seeds that did not choose it.
    held_out, trained = 0, 0
    for seed in range(100, 120):
        y, groups = grouped_rows(600, seed=seed)
        first = split_of_group(y[:300], groups[:300])
        last = split_of_group(y, groups)
        tests = [g for g, s in first.items() if s == "test"]
        held_out += len(tests)
        trained += sum(last[g] == "train" for g in tests)
    assert held_out > 300 and trained <= held_out // 100


def test_split_depends_on_the_rows_not_their_order_and_on_the_seed():
    y, groups = grouped_rows(300)
    order = np.random.default_rng(5).permutation(len(y))
    shuffled = split_of_group([y[i] for i in order], [groups[i] for i in order])
    assert shuffled == split_of_group(y, groups)
    assert split_of_group(y, groups, seed=1) != split_of_group(y, groups)
    # numpy and Python integers are one key (the export passes either).
    assert split_of_group(y, [np.int64(g) for g in groups]) == split_of_group(y, groups)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="groups has 2 entries but y has 3"):
        stable_group_split(["a", "b", "c"], ["g", "h"])
    with pytest.raises(ValueError, match="fractions must be three non-negative numbers"):
        stable_group_split(["a"], None, (0.5, -0.1, 0.6))
    assert stable_group_split([], []).tolist() == []
