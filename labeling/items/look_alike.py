"""Label names an import must not create because they read like another: the same once case is
ignored, or once letters of another script that look like Latin ones are read as those (Cyrillic
"а" for Latin "a": "bаnking" and "banking"). NFKC (labeling.projects.label_names.label_name_key)
does neither: Cyrillic and Latin letters are distinct characters with no compatibility mapping.

Without Unicode's confusables data (not in the standard library), the letters read alike are a
short table of the Cyrillic and Greek letters that print as a Latin one; a new name that mixes
Latin with Cyrillic or Greek letters in one word is refused as well, so that a look-alike the table
misses cannot be created either. Plain Python, no Django."""
from __future__ import annotations

import re
import unicodedata

from labeling.projects.label_names import label_name_key, written_out

LOOK_ALIKE_IMPORT_RULE = ("names that look the same, ignoring case, invisible characters, variants and letters of "
                          "another script that look like Latin ones, count as one")

# Cyrillic and Greek letters that print as a Latin letter (as their shapes go in common fonts).
_AS_LATIN = str.maketrans({
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j",
    "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "υ": "u", "χ": "x", "α": "a",
})
_LOOK_LATIN = frozenset(chr(code) for code in _AS_LATIN)
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_WORD = re.compile(r"\w+")


def look_alike_key(name: str) -> str:
    """The name as an import compares it: label_name_key, letters of another script that print as
    Latin ones read as those, case ignored (casefold), NFKC again for what casefolding unfolds."""
    key = label_name_key(name)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFD", key).translate(_AS_LATIN).casefold())


def shown_apart(name: str) -> str:
    """The name written out (``written_out``) with its letters that print as Latin ones but are not
    (the table above) as \\uXXXX too: a message saying two names look alike shows what tells them apart."""
    return "".join(f"\\u{ord(char):04x}" if char in _LOOK_LATIN else char for char in written_out(name))


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    first = unicodedata.name(char, "").split(" ", 1)[0]
    return first if first in _SCRIPTS else None


def mixed_scripts(name: str) -> str | None:
    """Why a new label's name would pass for another: its first word that mixes Latin letters with
    Cyrillic or Greek ones, with those letters written as \\uXXXX (printed, they read as Latin);
    None when no word does."""
    for word in _WORD.findall(unicodedata.normalize("NFKC", name)):
        scripts = {script for char in word if (script := _script(char))}
        if "LATIN" in scripts and len(scripts) > 1:
            others = " and ".join(sorted(script.title() for script in scripts - {"LATIN"}))
            foreign = ", ".join(dict.fromkeys(f"\\u{ord(char):04x}" for char in word if _script(char) not in (None, "LATIN")))
            return (f"its word '{shown_apart(word)}' mixes Latin and {others} letters ({others}: {foreign}), so it reads like a "
                    "Latin name that it is not; write the name in one script")
    return None
