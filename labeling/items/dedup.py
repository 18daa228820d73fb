"""Exact and near-duplicate grouping. Plain Python + numpy (no Django): the importer plugs in a
database-backed store, the benchmark an in-memory one, and both run the same grouping code.

Near duplicates: MinHash (datasketch's affine32 permutations, computed vectorised over many texts at
once) over shingles of the normalized text, LSH banding to find candidate groups, then ``similarity``
against the group's representative (its oldest item) decides: the largest of char-shingle Jaccard,
word edit similarity and "equal once a recurring trailing span is stripped". Because the final
decision is exact, the banding only has to be generous enough for recall; it is fixed (BANDS x ROWS)
so that stored band keys stay valid when a project changes its threshold. Groups never merge.

Shingles: character 4-grams of the normalized text with punctuation dropped (``normalize_text``
casefolds and masks URLs, mentions and digits; ``_patterns`` says what else goes: not combining marks,
the vowels of Devanagari, Thai, Bengali..., nor emoji, which carry the meaning of short texts, so two
texts with different emoji are no near duplicates: ``emoji_differ``). Character shingles tolerate an
edited word in a short text far better than word n-grams do (see docs/intake.md for the measurements
that chose them).
"""
from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

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
# Emoji variation selectors (U+FE0F after ❤) say how to draw a character, not which one it is.
_ASCII_DELETED = re.compile(r"[^\w\s]+")  # of an ASCII text, what _patterns()[0] deletes
_VARIATION_SELECTORS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_POLY = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: hashes a window of non-ASCII code points
_HIGH_BIT = np.uint64(1 << 63)
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
    (tested)."""
    from datasketch import MinHash  # heavy (brings scipy.integrate): only when signatures are computed

    a, b = MinHash(num_perm=NUM_PERM, seed=_SEED).permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def _optional_pointing(code: int) -> bool:
    """Hebrew niqqud and cantillation, Arabic harakat and Quranic marks, Syriac vowel points: marks a
    writer may or may not add to the same word (unlike the vowel signs of Devanagari or Thai)."""
    return 0x0591 <= code <= 0x05C7 or 0x0610 <= code <= 0x06ED or 0x0730 <= code <= 0x074A or 0x08D3 <= code <= 0x08FF


@functools.cache
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    """(what shingle_text deletes, what counts as an emoji), built from unicodedata once per process
    (~0.4 s). Deleted: punctuation (general category P*, but "_"), format and control characters (not
    white space), ASCII symbols, variation selectors and optional pointing: of an ASCII text exactly
    what ``[^\\w\\s]`` deleted before, so the band keys stored for it stay valid. That class also
    deleted the combining marks that are the vowels of Devanagari, Thai, Bengali... (काम and कम, ดี and
    ดู shingled alike) and every emoji ("I love it ❤️" and "I love it 💔"): they stay now. Emoji: symbols
    (So) from the arrows block (U+2190) on; below it So is ©, ®, ° and the like."""
    deleted: list[list[int]] = []
    emoji: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        cat = unicodedata.category(char)
        if ((cat[0] == "P" and char != "_") or cat == "Cf" or (cat == "Cc" and not char.isspace())
                or (code < 0x80 and cat[0] == "S") or (cat == "Mn" and _optional_pointing(code))):
            _extend(deleted, code)
        elif cat == "So" and code >= 0x2190:
            _extend(emoji, code)
    return re.compile(f"[{_ranges(deleted)}{_VARIATION_SELECTORS}]+"), re.compile(f"[{_ranges(emoji)}]")


def _extend(ranges: list[list[int]], code: int) -> None:
    if ranges and ranges[-1][1] == code - 1:
        ranges[-1][1] = code
    else:
        ranges.append([code, code])


def _ranges(ranges: list[list[int]]) -> str:
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)


def shingle_text(text: str, *, normalized: bool = False) -> str:
    """The string shingles are cut from: normalized, punctuation dropped, single spaces."""
    normalized = text if normalized else normalize_text(text)
    # Punctuation is deleted, not turned into a space, so "don't" and "dont" shingle alike. An ASCII
    # text (most) takes the short class, which deletes the same of it as the long one, three times faster.
    deleted = _ASCII_DELETED if normalized.isascii() else _patterns()[0]
    return " ".join(deleted.sub("", normalized).split()) or normalized or " "


def fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (the same as datasketch's pre-mix for affine32)."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(2246822507)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(3266489909)
    return hv ^ (hv >> np.uint32(16))


def shingle_hashes(texts: Sequence[str], *, normalized: bool = False, shingled: bool = False) -> list[np.ndarray]:
    """Per text, the sorted unique 32-bit hashes of its character 4-grams (of ``shingle_text``;
    ``shingled``: the texts are shingle_text forms already). All texts are cut in one numpy pass.
    Windows of code points, not of UTF-8 bytes: a byte window holds ~1.3 Devanagari or Thai letters,
    so two texts of one script shared most windows (काम/कम scored 0.93). An all-ASCII window packs
    its 4 characters into 32 bits exactly as the byte windows did, so band keys stored for ASCII
    texts stay valid; any other window is a polynomial hash with bit 63 set, which no packed ASCII
    window has. Both are mixed to 32 bits."""
    cut = [t if shingled else shingle_text(t, normalized=normalized) for t in texts]
    cut = [t if len(t) >= SHINGLE_CHARS else t.ljust(SHINGLE_CHARS) for t in cut]
    lengths = np.fromiter((len(t) for t in cut), dtype=np.int64, count=len(cut))
    buf = np.frombuffer("".join(cut).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(cut) else np.zeros(0, np.int64)
    n_windows = max(len(buf) - SHINGLE_CHARS + 1, 0)
    windows = buf[:n_windows].copy()
    for k in range(1, SHINGLE_CHARS):
        windows = (windows << np.uint64(8)) | buf[k : k + n_windows]
    non_ascii = np.flatnonzero(buf > 0x7F)
    if len(non_ascii):  # hashed only where a window holds one (each such character is in up to 4)
        wide = np.unique(np.clip((non_ascii[:, None] - np.arange(SHINGLE_CHARS)).ravel(), 0, max(n_windows - 1, 0)))
        wide = wide[wide < n_windows]
        hashed = buf[wide]
        for k in range(1, SHINGLE_CHARS):
            hashed = hashed * _POLY + buf[wide + k]  # uint64 arithmetic wraps mod 2^64
        windows[wide] = hashed | _HIGH_BIT
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
    """What verification compares: the char-shingle hashes, the words and the emoji of ``shingle_text``."""

    shingles: np.ndarray
    words: tuple[str, ...]
    emoji: frozenset[str] = frozenset()


def features(texts: Sequence[str], *, normalized: bool = False) -> list[Features]:
    shingled = [shingle_text(t, normalized=normalized) for t in texts]
    find = _patterns()[1].findall
    return [Features(sh, tuple(st.split()), frozenset() if st.isascii() else frozenset(find(st)))
            for sh, st in zip(shingle_hashes(shingled, shingled=True), shingled, strict=True)]


def emoji_differ(a: Features, b: Features) -> bool:
    """Both texts carry emoji and not the same ones: "I love it ❤️" / "I love it 💔", "The update is
    👍" / "… 👎". One emoji in a short text is one character and at most one word, so neither the
    char Jaccard nor the word edit similarity sees that it reverses the text's meaning. A text with
    emoji and one without are compared as usual (an appended 😂 is like an appended word)."""
    return bool(a.emoji) and bool(b.emoji) and a.emoji != b.emoji


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
    - 1.0 when the texts are equal once a recurring trailing span (signature) is stripped;
    0.0 when both carry emoji and they differ (``emoji_differ``).
    Cheapest first; stops as soon as one reaches ``threshold``."""
    if emoji_differ(a, b):
        return 0.0
    best = jaccard(a.shingles, b.shingles)
    if best >= threshold and threshold > 0:
        return best
    if is_boilerplate is not None and boilerplate_tail(a, b, is_boilerplate):
        return 1.0
    if best < WORD_EDIT_MIN_JACCARD:
        return best
    return max(best, word_edit_similarity(a.words, b.words, floor=threshold))
