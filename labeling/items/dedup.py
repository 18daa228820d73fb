"""Exact and near-duplicate grouping. Plain Python + numpy (no Django): the importer plugs in a
database-backed store, the benchmark an in-memory one, and both run the same grouping code.

Near duplicates: MinHash (datasketch's affine32 permutations, computed vectorised over many texts at
once) over shingles of the normalized text, LSH banding to find candidate groups, then ``similarity``
against the group's representative (its oldest item) decides: the largest of char-shingle Jaccard,
word edit similarity and "equal once a recurring trailing span is stripped". Because the final
decision is exact, the banding only has to be generous enough for recall; it is fixed (BANDS x ROWS)
so that stored band keys stay valid when a project changes its threshold. Groups never merge.

Shingles: character 4-grams of the normalized text with punctuation dropped (``normalize_text``
casefolds and masks URLs, mentions and digits). Character shingles tolerate an edited word in a short
text far better than word n-grams do (see docs/intake.md for the measurements that chose them).
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from learner.text import normalize_text

SHINGLE_CHARS = 4
# 16 bands of 4 rows: a pair at Jaccard 0.8 becomes a candidate with probability 0.9998, at 0.7 0.988,
# at 0.6 0.89, at 0.3 0.12; thresholds down to ~0.65 keep their recall.
BANDS = 16
ROWS = 4
NUM_PERM = BANDS * ROWS
_SEED = 1
_WORD = re.compile(r"\w+")
_PUNCT = re.compile(r"[^\w\s]+")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MAX_CELLS = 4_000_000  # permutations x shingles evaluated at once (~16 MB of uint32)
MAX_TAIL_WORDS = 6  # longest trailing span that can be boilerplate
BOILERPLATE_MIN_TEXTS = 5  # ... when it ends at least this many texts
REP_SLACK = 0.1  # joining via a member needs at least threshold - REP_SLACK to the representative
# Chosen on bench/dedup_bench.py (seed 0; 0.5 / 0.55 / 0.6 measured), checked on seed 1: see docs/intake.md.
WORD_EDIT_MIN_JACCARD = 0.55
MAX_EDIT_WORDS = 60  # word edit similarity only for texts up to this many words (longer: Jaccard suffices)


@functools.cache
def permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 scheme: h -> fmix32(h); a * h + b mod 2^32 (a odd). Taking the
    permutations from datasketch keeps our vectorised signatures identical to MinHash.update_batch
    (tested). Imported lazily: datasketch pulls in scipy, which slows every Django start-up."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=NUM_PERM, seed=_SEED).permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def shingle_text(text: str, *, normalized: bool = False) -> str:
    """The string shingles are cut from: normalized, punctuation dropped, single spaces."""
    normalized = text if normalized else normalize_text(text)
    # Punctuation is deleted, not turned into a space, so "don't" and "dont" shingle alike.
    return " ".join(_PUNCT.sub("", normalized).split()) or normalized or " "


def fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (the same as datasketch's pre-mix for affine32)."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(2246822507)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(3266489909)
    return hv ^ (hv >> np.uint32(16))


def shingle_hashes(texts: Sequence[str], *, normalized: bool = False, shingled: bool = False) -> list[np.ndarray]:
    """Per text, the sorted unique 32-bit hashes of its character 4-grams (of ``shingle_text``;
    ``shingled``: the texts are shingle_text forms already).
    All texts are cut in one numpy pass: a 4-byte window is a 32-bit integer, mixed to 32 bits."""
    encoded = [(t if shingled else shingle_text(t, normalized=normalized)).encode("utf-8") for t in texts]
    encoded = [e if len(e) >= SHINGLE_CHARS else e.ljust(SHINGLE_CHARS) for e in encoded]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(encoded) else np.zeros(0, np.int64)
    windows = buf[: len(buf) - SHINGLE_CHARS + 1].copy() if len(buf) >= SHINGLE_CHARS else np.zeros(0, np.uint64)
    for k in range(1, SHINGLE_CHARS):
        windows = (windows << np.uint64(8)) | buf[k : len(buf) - SHINGLE_CHARS + 1 + k]
    mixed = ((windows * _GOLDEN) >> np.uint64(32)).astype(np.uint32)
    counts = lengths - SHINGLE_CHARS + 1
    return [np.unique(mixed[s : s + c]) for s, c in zip(starts.tolist(), counts.tolist(), strict=True)]


def signatures(shingles: Sequence[np.ndarray]) -> np.ndarray:
    """MinHash signatures, shape (len(shingles), NUM_PERM), uint32; vectorised over all texts."""
    out = np.empty((len(shingles), NUM_PERM), dtype=np.uint32)
    if not len(shingles):
        return out
    sizes = np.fromiter((len(s) for s in shingles), dtype=np.int64, count=len(shingles))
    # Cut the texts into blocks of about _MAX_CELLS / NUM_PERM shingles, one (perm x shingle) matrix each.
    perm_a, perm_b = permutations()
    per_block = max(1, _MAX_CELLS // NUM_PERM)
    i = 0
    while i < len(shingles):
        j, total = i, 0
        while j < len(shingles) and (total == 0 or total + sizes[j] <= per_block):
            total += sizes[j]
            j += 1
        hv = fmix32(np.concatenate(shingles[i:j]).astype(np.uint32))
        phv = hv[None, :] * perm_a[:, None] + perm_b[:, None]  # uint32 arithmetic wraps mod 2^32
        offsets = np.concatenate(([0], np.cumsum(sizes[i:j])[:-1]))
        out[i:j] = np.minimum.reduceat(phv, offsets, axis=1).T
        i = j
    return out


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) signed 64-bit keys; two items share band b's key iff (almost surely) their
    signatures agree on all ROWS values of band b. The band index is mixed in, so keys of different
    bands never meet."""
    n = sigs.shape[0]
    rows = sigs.reshape(n, BANDS, ROWS).astype(np.uint64)
    keys = np.broadcast_to(np.arange(1, BANDS + 1, dtype=np.uint64) * _GOLDEN, (n, BANDS)).copy()
    for r in range(ROWS):
        keys = (keys ^ rows[:, :, r]) * np.uint64(0xBF58476D1CE4E5B9)
        keys ^= keys >> np.uint64(31)
    return keys.view(np.int64)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle-hash arrays."""
    if not len(a) and not len(b):
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (len(a) + len(b) - inter)



def word_edit_similarity(a: Sequence[str], b: Sequence[str], floor: float = 0.0) -> float:
    """1 - (word-level Levenshtein distance) / (longer word count). One replaced, inserted or deleted
    word in an n-word text scores 1 - 1/n, whatever the word's length (char shingles punish a long
    edited word in a short text far more). Returns 0 early when the result cannot reach ``floor``."""
    n, m = len(a), len(b)
    longest = max(n, m)
    if not longest:
        return 1.0
    budget = int((1.0 - floor) * longest + 1e-9)  # the most edits that still reach floor
    if abs(n - m) > budget or longest > MAX_EDIT_WORDS:
        return 0.0
    prev = list(range(m + 1))
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        x = a[i - 1]
        best = i
        for j in range(1, m + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != b[j - 1]))
            best = min(best, cur[j])
        if best > budget:
            return 0.0
        prev = cur
    return 1.0 - prev[m] / longest


@dataclass(frozen=True, eq=False)  # compared by identity: numpy arrays have no plain ==
class Features:
    """What verification compares: the char-shingle hashes and the words of ``shingle_text``."""

    shingles: np.ndarray
    words: tuple[str, ...]


def features(texts: Sequence[str], *, normalized: bool = False) -> list[Features]:
    shingled = [shingle_text(t, normalized=normalized) for t in texts]
    return [Features(sh, tuple(st.split())) for sh, st in zip(shingle_hashes(shingled, shingled=True), shingled, strict=True)]


def boilerplate_tail(a: Features, b: Features, is_boilerplate) -> bool:
    """True when one text is the other plus a trailing span of at most MAX_TAIL_WORDS words that
    ``is_boilerplate`` (e.g. recurring at the end of many texts: "sent from my iphone", "thanks sam")."""
    short, long_ = (a.words, b.words) if len(a.words) <= len(b.words) else (b.words, a.words)
    extra = len(long_) - len(short)
    return (0 < extra <= MAX_TAIL_WORDS and len(short) > 0 and long_[: len(short)] == short
            and is_boilerplate(long_[len(short):]))


def similarity(a: Features, b: Features, threshold: float = 0.0, is_boilerplate=None) -> float:
    """The near-duplicate similarity the project's threshold applies to: the largest of
    - the Jaccard similarity of the char 4-gram sets (casing, punctuation, reordered sentences),
    - the word-level edit similarity (one edited word in a short text), counted only when the char
      Jaccard is at least WORD_EDIT_MIN_JACCARD (two short questions that differ in one long content
      word, "capital" / "currency", share too few shingles),
    - 1.0 when the texts are equal once a recurring trailing span (signature) is stripped.
    Cheapest first; stops as soon as one reaches ``threshold``."""
    best = jaccard(a.shingles, b.shingles)
    if best >= threshold and threshold > 0:
        return best
    if is_boilerplate is not None and boilerplate_tail(a, b, is_boilerplate):
        return 1.0
    if best < WORD_EDIT_MIN_JACCARD:
        return best
    return max(best, word_edit_similarity(a.words, b.words, floor=threshold))


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
