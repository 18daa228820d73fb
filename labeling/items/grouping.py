"""Grouping imported texts into exact and near-duplicate groups, chunk by chunk, against what is
already stored (``DedupStore``: the database in the importer, memory in the benchmark). The
similarity measures it decides with are in ``dedup``."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .dedup import (
    BANDS,
    BOILERPLATE_MIN_TEXTS,
    MAX_TAIL_WORDS,
    REP_SLACK,
    Features,
    band_keys,
    features,
    shingle_hashes,
    signatures,
    similarity,
)


class DedupStore(Protocol):
    """What grouping needs to know about items already stored (earlier chunks and imports)."""

    def groups_for_hashes(self, hashes: Iterable[str]) -> dict[str, int]:
        """text_hash -> dup_group of an existing item with that hash."""

    def items_for_band_keys(self, keys: np.ndarray) -> dict[int, list[int]]:
        """For an (n, BANDS) array of band keys: key -> ids of existing items that have it."""

    def groups_and_features(self, item_ids: Iterable[int]) -> dict[int, tuple[int, Features]]:
        """item id -> (its dup_group, its Features)."""


class UnionFind:
    """Groups named by their oldest (smallest) item id: a merge never renames a group to a newer id."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        root, child = (ra, rb) if ra < rb else (rb, ra)
        self.parent[child] = root
        self.parent.setdefault(root, root)
        return root


@dataclass
class ChunkPlan:
    """Grouping decisions for one chunk of new rows, before they have ids."""

    n: int
    exact: int = 0
    near: int = 0
    # (row, row) pairs inside the chunk and (row, existing group id) links.
    row_links: list[tuple[int, int]] = field(default_factory=list)
    group_links: list[tuple[int, int]] = field(default_factory=list)
    # Rows whose text hash is new: they get band keys stored (their key rows, in order).
    banded_rows: list[int] = field(default_factory=list)
    keys: np.ndarray | None = None
    features: list[Features] = field(default_factory=list)  # of banded_rows, in order


@dataclass
class Grouper:
    """Assigns duplicate groups chunk by chunk. Call ``plan`` with a chunk's texts and hashes, store
    the rows, then ``commit`` with their new ids to get each row's group."""

    store: DedupStore
    threshold: float = 0.8
    uf: UnionFind = field(default_factory=UnionFind)
    seen_hashes: dict[str, int] = field(default_factory=dict)  # this run: text_hash -> an item id
    touched_groups: set[int] = field(default_factory=set)
    candidates_checked: int = 0
    tail_counts: Counter = field(default_factory=Counter)  # trailing word spans of texts seen this run

    def is_boilerplate(self, tail: tuple[str, ...]) -> bool:
        return self.tail_counts[tail] >= BOILERPLATE_MIN_TEXTS

    def boilerplate_tail_length(self, words: tuple[str, ...]) -> int:
        """Words in the longest boilerplate trailing span that leaves at least two words; 0 if none."""
        for k in range(min(MAX_TAIL_WORDS, len(words) - 2), 0, -1):
            if self.is_boilerplate(words[-k:]):
                return k
        return 0

    def plan(self, texts: Sequence[str], hashes: Sequence[str], normalized: Sequence[str] | None = None) -> ChunkPlan:
        """``normalized``: the texts' normalize_text forms, when the caller has them already."""
        n = len(texts)
        plan = ChunkPlan(n=n)
        unseen = [h for h in dict.fromkeys(hashes) if h not in self.seen_hashes]
        stored_groups = self.store.groups_for_hashes(unseen) if unseen else {}
        first_row: dict[str, int] = {}
        new_rows = []
        for i, h in enumerate(hashes):
            if h in first_row:
                plan.row_links.append((i, first_row[h]))
                plan.exact += 1
            elif h in self.seen_hashes:
                plan.group_links.append((i, self.seen_hashes[h]))
                plan.exact += 1
            elif h in stored_groups:
                plan.group_links.append((i, stored_groups[h]))
                plan.exact += 1
            else:
                first_row[h] = i
                new_rows.append(i)
        plan.banded_rows = new_rows
        if not new_rows:
            plan.keys = np.zeros((0, BANDS), dtype=np.int64)
            return plan
        if normalized is not None:
            feats = features([normalized[i] for i in new_rows], normalized=True)
        else:
            feats = features([texts[i] for i in new_rows])
        plan.features = feats
        for f in feats:
            for k in range(1, min(MAX_TAIL_WORDS, len(f.words) - 1) + 1):
                self.tail_counts[f.words[-k:]] += 1
        full_keys = band_keys(signatures([f.shingles for f in feats]))
        # A text ending in recurring boilerplate is indexed under its text without it, so that its
        # bare version (and other copies with another signature) find it; it looks up both.
        keys = full_keys.copy()
        stripped = [(pos, self.boilerplate_tail_length(f.words)) for pos, f in enumerate(feats)]
        stripped = [(pos, k) for pos, k in stripped if k]
        if stripped:
            bare = shingle_hashes([" ".join(feats[pos].words[:-k]) for pos, k in stripped], shingled=True)
            keys[[pos for pos, _ in stripped]] = band_keys(signatures(bare))
        plan.keys = keys
        probes = [set(row) for row in keys.tolist()]
        for pos, _ in stripped:
            probes[pos].update(full_keys[pos].tolist())
        stored = self.store.items_for_band_keys(np.vstack([keys, full_keys[[pos for pos, _ in stripped]]]))
        stored_candidates = [sorted({c for k in row for c in stored.get(k, ())}) for row in probes]
        needed = sorted({c for cands in stored_candidates for c in cands})
        stored_info = self.store.groups_and_features(needed) if needed else {}
        # Against chaining: a row joins a group only if it is similar to the group's representative
        # (its oldest item, whose id names the group), not merely to some member. Members found by
        # LSH only point at groups to try. So groups never merge and group ids never change.
        reps = {g for g, _ in stored_info.values()}
        rep_features = {i: f for i, (_, f) in stored_info.items() if i in reps}
        missing = sorted(reps - rep_features.keys())
        if missing:
            rep_features.update({i: f for i, (_, f) in self.store.groups_and_features(missing).items()})
        local_index: dict[int, list[int]] = {}
        # Per banded row: ("stored", group id) or ("row", position of the row that founded the group).
        row_group: list[tuple[str, int]] = []
        for pos, i in enumerate(new_rows):
            # Group -> the candidate members of it that LSH retrieved (features).
            members: dict[tuple[str, int], list[Features]] = {}
            for c in stored_candidates[pos]:
                members.setdefault(("stored", stored_info[c][0]), []).append(stored_info[c][1])
            for o in sorted({p for k in probes[pos] for p in local_index.get(k, ())}):
                members.setdefault(row_group[o], []).append(feats[o])
            joined = None
            # Oldest groups first: stored ones (smaller ids) before this chunk's.
            for option in sorted(members, key=lambda o: (o[0] != "stored", o[1])):
                kind, ref = option
                rep = rep_features.get(ref) if kind == "stored" else feats[ref]
                if rep is None:  # representative gone (deleted item): fall back to a member
                    rep = members[option][0]
                self.candidates_checked += 1
                floor = self.threshold - REP_SLACK
                if similarity(feats[pos], rep, self.threshold, self.is_boilerplate) >= self.threshold or (
                    any(m is not rep for m in members[option])
                    and similarity(feats[pos], rep, floor, self.is_boilerplate) >= floor
                    and any(similarity(feats[pos], m, self.threshold, self.is_boilerplate) >= self.threshold
                            for m in members[option] if m is not rep)
                ):
                    joined = option
                    break
            if joined is None:
                row_group.append(("row", pos))
            else:
                row_group.append(joined)
                plan.near += 1
                if joined[0] == "stored":
                    plan.group_links.append((i, joined[1]))
                else:
                    plan.row_links.append((i, new_rows[joined[1]]))
            for k in keys[pos].tolist():
                local_index.setdefault(k, []).append(pos)
        return plan

    def groups_before_insert(self, plan: ChunkPlan) -> list[int | None]:
        """Each row's group where it is already known before the rows have ids: rows linked only
        to stored groups. None for rows that found a group or join one found in this chunk."""
        linked_rows = {a for a, _ in plan.row_links} | {b for _, b in plan.row_links}
        known: list[int | None] = [None] * plan.n
        for a, group in plan.group_links:
            if a not in linked_rows:
                root = self.uf.find(group)
                known[a] = root if known[a] is None else min(known[a], root)
        return known

    def commit(self, plan: ChunkPlan, ids: Sequence[int], hashes: Sequence[str]) -> list[int]:
        """Record the chunk's new ids; returns each row's group id (as of now: later chunks may
        still merge groups; ``renamed_groups`` lists what changed)."""
        uf = self.uf
        for a, b in plan.row_links:
            uf.union(ids[a], ids[b])
        for a, group in plan.group_links:
            self.touched_groups.add(group)
            uf.union(ids[a], group)
        for i in plan.banded_rows:
            self.seen_hashes.setdefault(hashes[i], ids[i])
        groups = [uf.find(x) for x in ids]
        self.touched_groups.update(groups)
        return groups

    def renamed_groups(self) -> dict[int, int]:
        """Group ids handed out (or met) earlier that a later merge folded into an older group."""
        return {g: self.uf.find(g) for g in self.touched_groups if self.uf.find(g) != g}


class MemoryStore:
    """An in-memory DedupStore (benchmarks, tests of the grouping itself)."""

    def __init__(self):
        self.hash_group: dict[str, int] = {}
        self.key_items: dict[int, list[int]] = {}
        self.item_group: dict[int, int] = {}
        self.item_features: dict[int, Features] = {}

    def groups_for_hashes(self, hashes):
        return {h: self.hash_group[h] for h in hashes if h in self.hash_group}

    def items_for_band_keys(self, keys):
        return {k: self.key_items[k] for k in np.unique(keys).tolist() if k in self.key_items}

    def groups_and_features(self, item_ids):
        return {i: (self.item_group[i], self.item_features[i]) for i in item_ids}

    def add(self, ids, texts, hashes, groups, plan: ChunkPlan, renamed: dict[int, int]):
        for item_id, h, g in zip(ids, hashes, groups, strict=True):
            self.hash_group.setdefault(h, g)
            self.item_group[item_id] = g
        for pos, i in enumerate(plan.banded_rows):
            self.item_features[ids[i]] = plan.features[pos]
            for k in plan.keys[pos].tolist():
                self.key_items.setdefault(k, []).append(ids[i])
        if renamed:
            for item_id, g in self.item_group.items():
                if g in renamed:
                    self.item_group[item_id] = renamed[g]
            for h, g in self.hash_group.items():
                if g in renamed:
                    self.hash_group[h] = renamed[g]


def group_texts(texts: Sequence[str], hashes: Sequence[str], *, threshold: float = 0.8,
                chunk: int = 5000) -> tuple[list[int], Grouper]:
    """Group texts in memory (ids are 1..n in order). Used by the benchmark and tests."""
    store = MemoryStore()
    grouper = Grouper(store=store, threshold=threshold)
    groups: list[int] = []
    for start in range(0, len(texts), chunk):
        ids = list(range(start + 1, min(start + chunk, len(texts)) + 1))
        part_t, part_h = texts[start : start + chunk], hashes[start : start + chunk]
        plan = grouper.plan(part_t, part_h)
        chunk_groups = grouper.commit(plan, ids, part_h)
        store.add(ids, part_t, part_h, chunk_groups, plan, grouper.renamed_groups())
        groups.extend(chunk_groups)
    return [grouper.uf.find(g) for g in groups], grouper
