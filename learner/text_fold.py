"""Text folded so that what looks alike matches: the one fold that the item search (its folded
columns and its queries, labeling/items/browse.py) and keyword rules share. Plain Python, no Django.

The fold drops accents (NFKD, then the combining diacritics U+0300-U+036F removed, so "Cafe\u0301",
"Café" and "cafe" agree), applies NFKC (fullwidth "ｒｅｆｕｎｄ" is "refund", "ﬁ" is "fi") and removes
Unicode's default-ignorable characters (zero-width spaces and joiners, bidi controls, soft hyphens,
variation selectors...), so "pass\u200bword" is "password". Case is left alone (the search columns
lower-case in SQL, rules match case-insensitively), except for the three letters that neither SQL's
letter-by-letter lower() nor RE2's case-insensitive match unify with their other forms: Greek final
sigma "ς" becomes "σ" (lower("ΚΟΣΜΟΣ") is "κοσμοσ", never "κόσμος") and German "ß" and capital "ẞ"
become "ss" (lower("STRASSE") is "strasse", never "straße"), as case folding (str.casefold, the
importer's exact-duplicate hash) has them. So "ΚΟΣΜΟΣ" finds "κόσμος", and "Straße", "Strasse" and
"STRASSE" are one word to the search and to keyword rules.

``fold_with_offsets`` folds the same way and also says which raw characters each folded character
came from, so a match found in the folded text can be marked on the raw text.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from array import array
from dataclasses import dataclass

# Unicode's Default_Ignorable_Code_Points (DerivedCoreProperties.txt), spelled out. The search
# columns of labeling/items/migrations/0007_item_search_text.py remove exactly these in SQL (the
# labeling side's is_invisible uses this pattern too), so it changes only together with a migration
# that rebuilds those columns.
INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                       "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
                       "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
ACCENTS = re.compile("[\u0300-\u036f]")
# Characters of combining class 0 that canonical composition still joins to the character before
# them (the second half of a canonical decomposition: Indic and Tibetan vowel parts, and the Hangul
# vowel and final jamo that compose algorithmically). Derived from unicodedata (Unicode 14); a test
# derives it again, so a Python with a newer Unicode database says when it grew.
COMPOSING_STARTERS = frozenset(
    "\u09be\u09d7\u0b3e\u0b56\u0b57\u0bbe\u0bd7\u0cc2\u0cd5\u0cd6\u0d3e\u0d57\u0dcf\u0ddf\u0fb5\u0fb7"
    "\u102e\u1b35\U00011127\U0001133e\U00011357\U000114b0\U000114ba\U000114bd\U000115af\U00011930"
) | frozenset(map(chr, range(0x1161, 0x1176))) | frozenset(map(chr, range(0x11a8, 0x11c3)))
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# The letters whose case folding SQL's lower() and RE2's case-insensitive match miss (see the
# module's docstring). The search columns' SQL (labeling/items/migrations/0011_item_search_case_fold.py)
# maps exactly these, so this changes only together with a migration that rebuilds those columns.
CASE_FOLDS = {"\u00df": "ss", "\u1e9e": "ss", "\u03c2": "\u03c3"}
_CASE_FOLDS = str.maketrans(CASE_FOLDS)
# Scripts written without spaces between words (Thai, Lao, Tibetan, Myanmar, Khmer, Hangul with its
# attached particles, kana, Han): a word in them has letters of the same run on either side. The
# search matches a query in them as a part of the text (labeling/items/browse.py) and a keyword rule
# needs no word boundary next to such a character (learner/rules.py).
UNSPACED = re.compile("[\u0e00-\u0fff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff\u3130-\u318f"
                      "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")


def search_form(text: str) -> str:
    """The text folded (see the module's docstring), as the search columns hold item texts."""
    if text.isascii():  # nothing to fold: NFKD/NFKC leave ASCII as it is, and no ASCII is invisible here
        return text
    text = ACCENTS.sub("", unicodedata.normalize("NFKD", text))
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_CASE_FOLDS)


def _joins_previous(char: str) -> bool:
    """Whether folding may join ``char`` to the character before it: a combining mark, a
    composing starter, a character the accent step removes (U+034F, a starter, blocks reordering
    and composition until it is gone), or a character whose compatibility decomposition begins with
    one of those (the halfwidth katakana voiced marks)."""
    return _joins(char) or _joins(unicodedata.normalize("NFKD", char)[:1])


def _joins(char: str) -> bool:
    return bool(char) and (unicodedata.combining(char) != 0 or char in COMPOSING_STARTERS
                           or ACCENTS.match(char) is not None)


joins_previous = functools.lru_cache(maxsize=8192)(_joins_previous)
_fold_piece = functools.lru_cache(maxsize=8192)(search_form)


@dataclass(frozen=True)
class FoldedText:
    """A text folded, with where each folded character came from: ``starts[j]`` and ``ends[j]``
    are the raw range of the piece folded character ``j`` belongs to (None: the fold changed
    nothing, offsets are the same)."""

    text: str
    starts: array | None = None
    ends: array | None = None

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw (start, end) that covers folded ``text[start:end]`` (end > start), whole
        pieces: a highlight of "password" in "pass\u200bword" covers the zero-width space."""
        if self.starts is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def fold_with_offsets(text: str) -> FoldedText:
    """``search_form(text)`` with the raw range of each folded character.

    The text is cut into pieces that fold independently: a piece starts at every character that
    normalizing cannot join to the one before it, so folding the pieces one by one gives the fold
    of the whole text (tests hold them equal on texts built to break it). ASCII folds to itself."""
    if text.isascii():
        return FoldedText(text)
    parts: list[str] = []
    starts, ends = array("q"), array("q")  # 8 bytes an offset: a 20,000-character text stays small

    def same(a: int, b: int) -> None:  # ASCII characters: each is its own piece and folds to itself
        parts.append(text[a:b])
        starts.extend(range(a, b))
        ends.extend(range(a + 1, b + 1))

    def folded(a: int, b: int) -> None:
        piece = _fold_piece(text[a:b])
        parts.append(piece)
        starts.extend(array("q", [a]) * len(piece))
        ends.extend(array("q", [b]) * len(piece))

    done = 0
    for run in _NON_ASCII.finditer(text):
        s, e = run.span()
        first = s - 1 if s > 0 and joins_previous(text[s]) else s  # "e\u0301": the e joins the piece
        same(done, first)
        cuts = [first] + [i for i in range(s + 1, e) if not joins_previous(text[i])] + [e]
        for a, b in zip(cuts, cuts[1:], strict=False):
            folded(a, b)
        done = e
    same(done, len(text))
    return FoldedText("".join(parts), starts, ends)
