"""What shows nothing when printed: the one definition of an invisible character that label names
(look-alikes, names that are empty once read), item texts (rows that hold no visible text) and the
text search (the folded search columns) share. Plain Python, no Django.

Invisible: format characters (Cf: zero-width spaces and joiners, direction marks and overrides,
soft hyphens, byte order marks), control characters (Cc), and Unicode's other
Default_Ignorable_Code_Points (variation selectors, Hangul fillers, the combining grapheme joiner,
tags, and the code points Unicode keeps ignorable for characters not assigned yet)."""
from __future__ import annotations

import unicodedata

from learner.text_fold import INVISIBLE

# Unicode's Default_Ignorable_Code_Points, spelled out once in learner.text_fold (keyword rules
# fold text with it too). The search columns of labeling/items/migrations/0007_item_search_text.py
# remove exactly these in SQL: it changes only together with a migration that rebuilds those columns.
# Categories that are invisible beyond that list: the other format characters (Arabic number signs,
# interlinear annotation marks, ...) and every control character (NUL, tabs and line breaks included).
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc"})


def is_invisible(char: str) -> bool:
    """True for one character that shows nothing (see the module's docstring)."""
    return unicodedata.category(char) in INVISIBLE_CATEGORIES or INVISIBLE.match(char) is not None


def without_invisible(text: str) -> str:
    """The text with its invisible characters removed."""
    return "".join(char for char in text if not is_invisible(char))
