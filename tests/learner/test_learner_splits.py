from collections import Counter

import numpy as np
import pytest

from learner.splits import group_kfold, group_stratified_split, not_estimable


def test_groups_never_straddle_and_tiny_classes_train():
    rng = np.random.default_rng(0)
    y = [f"c{i % 5}" for i in range(500)] + ["tiny"] * 3 + ["solo"]
    groups = [f"g{rng.integers(0, 120)}" for _ in range(500)] + ["t1", "t2", "t3", "s1"]
    split = group_stratified_split(y, groups, (0.8, 0.1, 0.1), seed=3)
    by_group = {}
    for g, s in zip(groups, split, strict=True):
        by_group.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in by_group.values())
    assert set(split[-4:]) == {"train"}
    assert "tiny" in not_estimable(y, split, "val") and "solo" in not_estimable(y, split, "test")


def test_stratified_fractions_per_class():
    y = ["a"] * 400 + ["b"] * 100 + ["c"] * 20
    split = group_stratified_split(y, None, (0.8, 0.1, 0.1), seed=0)
    for label, n in [("a", 400), ("b", 100), ("c", 20)]:
        counts = Counter(split[[i for i, v in enumerate(y) if v == label]])
        assert counts["train"] == pytest.approx(0.8 * n, abs=1)
        assert counts["val"] == pytest.approx(0.1 * n, abs=1)
        assert counts["test"] == pytest.approx(0.1 * n, abs=1)


def test_every_label_with_four_rows_reaches_train_and_split_is_seeded():
    y = [f"c{i}" for i in range(10) for _ in range(4)]
    a = group_stratified_split(y, None, (0.5, 0.5, 0.0), seed=7)
    b = group_stratified_split(y, None, (0.5, 0.5, 0.0), seed=7)
    assert a.tolist() == b.tolist()
    for label in set(y):
        parts = {s for s, v in zip(a, y, strict=True) if v == label}
        assert "train" in parts
    assert "test" not in set(a)


def test_mismatched_groups_rejected():
    with pytest.raises(ValueError, match="groups has 2 entries but y has 3"):
        group_stratified_split(["a", "b", "c"], ["g", "h"])


def test_group_kfold_keeps_groups_whole_and_spreads_labels():
    y = ["a"] * 50 + ["b"] * 25 + ["c"] * 5
    groups = [f"g{i // 5}" for i in range(75)] + [f"c{i}" for i in range(5)]
    fold = group_kfold(y, groups, k=5, seed=1)
    for g in set(groups):
        assert len({f for f, gg in zip(fold, groups, strict=True) if gg == g}) == 1
    c_folds = fold[-5:]
    assert sorted(c_folds.tolist()) == [0, 1, 2, 3, 4]
    assert np.bincount(fold).max() - np.bincount(fold).min() <= 5
    with pytest.raises(ValueError, match="at least 2"):
        group_kfold(y, None, k=1)
