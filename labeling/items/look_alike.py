"""The one rule for label names that look like another, read by every path that names labels
(imports; a lead's labels page, new-project lines, API and admin through
labeling.projects.label_names, which words its messages). Two names that read the same once
invisible characters (labeling.items.invisible: zero-width spaces, direction marks, soft hyphens,
variation selectors, Hangul fillers, other format and control characters), Unicode variants (NFKC),
case, and Cyrillic or Greek letters that print as Latin ones are set aside are one name: "bаnking",
with a Cyrillic "а", is "banking" (``look_alike_key``). NFKC alone does neither of the last two:
Cyrillic and Latin letters are distinct characters with no compatibility mapping.

Without Unicode's confusables data (not in the standard library), the letters read alike are a
short table of the Cyrillic and Greek letters that print as a Latin one; a new name that mixes
Latin with Cyrillic or Greek letters in one word is refused as well (``mixed_scripts``), so that a
look-alike the table misses cannot be created either. Only new or renamed names are judged: labels
stored together before the rule stay as they are. Plain Python, no Django."""
from __future__ import annotations

import re
import unicodedata

from .invisible import is_invisible, without_invisible
from .values import storable

# Said of two names that read the same once invisible characters and variants are set aside, and of
# two that need the rest of the rule (case, letters of another script) to read the same.
LOOK_ALIKE_RULE = "names that look the same, ignoring invisible characters and variants, count as one"
LOOK_ALIKE_FULL_RULE = ("names that look the same, ignoring case, invisible characters, variants and letters of "
                        "another script that look like Latin ones, count as one")

# Cyrillic and Greek letters that print as a Latin letter (as their shapes go in common fonts).
_UPPER_AS_LATIN = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}
_LOWER_AS_LATIN = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j",
    "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "υ": "u", "χ": "x", "α": "a",
}
# The key compares names case-folded, so a letter is read as its capital's Latin look-alike
# ("т" as "t": "БАНК" and "Банк" are one name), which wins where the small letter looks like
# another Latin one ("ν" is "n", as "Ν" is).
_FOLDED_AS_LATIN = str.maketrans({**_LOWER_AS_LATIN,
                                  **{upper.lower(): latin.lower() for upper, latin in _UPPER_AS_LATIN.items()}})
_LOOK_LATIN = frozenset({*_UPPER_AS_LATIN, *_LOWER_AS_LATIN})
# Small Greek letters that a reader tells from Latin ones: a word mixing them with Latin letters is
# a name of its own (TNFα, NF-κB), not a disguise. Not ν, υ, ι: they print as v, u, i.
_TOLD_APART = frozenset("ακ")
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_WORD = re.compile(r"\w+")


def label_name_key(name: str) -> str:
    """The name as it shows (invisible characters removed, NFKC, trimmed): empty for a name with
    nothing visible. Removed before NFKC, so that a mark kept from its letter by an invisible joiner
    composes with it ("a\\u034f\\u0301" is "á"), and after, should a compatibility form unfold into one.
    Whether two names look alike is ``look_alike_key``'s to say, which reads this key further."""
    return without_invisible(unicodedata.normalize("NFKC", without_invisible(name))).strip()


def look_alike_key(name: str) -> str:
    """The name as names are compared: label_name_key, letters of another script that print as
    Latin ones read as those, case ignored (lower), NFKC again for what lowering unfolds.
    Two labels of one project with one key look alike."""
    key = label_name_key(name)
    # lower(), not casefold(): casefolding also merges letters that look different ("Maße" and
    # "Masse" are two words), and this key is about looks.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFD", key).lower().translate(_FOLDED_AS_LATIN))


def look_alike_index(names) -> dict[str, str]:
    """look_alike_key → the first of ``names`` with that key: where a name's look-alike is found."""
    index: dict[str, str] = {}
    for name in names:
        index.setdefault(look_alike_key(name), name)
    return index


def look_alike_rule(name: str, twin: str) -> str:
    """The part of the rule that makes ``name`` look like ``twin``, as a message says it."""
    return LOOK_ALIKE_RULE if label_name_key(name) == label_name_key(twin) else LOOK_ALIKE_FULL_RULE


def _code(char: str) -> str:
    """\\uXXXX, or \\UXXXXXXXX beyond the Basic Multilingual Plane: always as many digits, so that the
    character after it cannot be read as one more."""
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def written_out(name: str, limit: int = 200) -> str:
    """The name with its invisible characters written as \\uXXXX or \\UXXXXXXXX (cut to ``limit``
    characters first, NUL and lone surrogates escaped as ``storable`` does), so that look-alikes
    read apart."""
    return "".join(_code(c) if is_invisible(c) else c for c in storable(name, limit))


def shown_apart(name: str, other: str | None = None) -> str:
    """The name written out (``written_out``) with its letters that print as Latin ones but are not
    (the table above) as \\uXXXX too, where that tells something apart: in a word that mixes them
    with Latin letters ("b\\u0430nking") or is made of them and Latin letters only, so that it reads
    as a Latin word ("\\u0441\\u043e\\u0440"); and all of them when ``other``, the name a message sets it
    beside, looks like it (look_alike_key) but reads differently ignoring case: then they are the
    difference. A name written in its own script ("Сова", "σφάλμα") reads as written."""
    shown = written_out(name)
    if other is not None and _apart_by_letters(name, other):
        return "".join(f"\\u{ord(char):04x}" if char in _LOOK_LATIN else char for char in shown)
    return _WORD.sub(lambda word: _word_apart(word.group()), shown)


def _apart_by_letters(name: str, other: str) -> bool:
    """``name`` and ``other`` look alike but differ in more than case: in letters of another script."""
    def cased(text: str) -> str:
        return unicodedata.normalize("NFKC", label_name_key(text).lower())
    return look_alike_key(name) == look_alike_key(other) and cased(name) != cased(other)


def _word_apart(word: str) -> str:
    letters = [char for char in word if char.isalpha()]
    disguised = [char in _LOOK_LATIN and char not in _TOLD_APART for char in letters]
    if not any(disguised):
        return word
    if not all(is_like or _script(char) == "LATIN" for char, is_like in zip(letters, disguised, strict=True)) \
            and not any(_script(char) == "LATIN" for char in letters):
        return word  # a word of its own script ("Сова"): it reads as that script, not as a Latin one
    return "".join(f"\\u{ord(char):04x}" if char in _LOOK_LATIN else char for char in word)


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    first = unicodedata.name(char, "").split(" ", 1)[0]
    return first if first in _SCRIPTS else None


def mixed_scripts(name: str) -> str | None:
    """Why a new label's name would pass for another: its first word that mixes Latin letters with
    Cyrillic or Greek ones that print as Latin letters (those written as \\uXXXX: printed, they read
    as Latin); None when no word does. Greek letters a reader tells apart (TNFα, IFNγ) are no disguise."""
    for word in _WORD.findall(unicodedata.normalize("NFKC", name)):
        scripts = {script for char in word if (script := _script(char))}
        disguised = [char for char in word if char in _LOOK_LATIN and char not in _TOLD_APART]
        if "LATIN" in scripts and disguised:
            others = " and ".join(sorted(script.title() for script in scripts - {"LATIN"}))
            foreign = ", ".join(dict.fromkeys(f"\\u{ord(char):04x}" for char in disguised))
            return (f"its word '{shown_apart(word)}' mixes Latin letters with {others} ones that print as Latin "
                    f"({foreign}), so it reads like a Latin name that it is not; write the name in one script")
    return None
