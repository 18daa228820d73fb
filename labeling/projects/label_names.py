"""What a label name looks like: two names that read the same once Unicode variants (NFKC) and
invisible characters (labeling.items.invisible: zero-width spaces, direction marks, soft hyphens,
variation selectors, Hangul fillers, other format and control characters) are set aside are one
name. Every path that names labels (the model's checks, the labels pages, the new-project lines,
imports) compares names this way and says so in the same words. A message that says two names look
alike writes their invisible characters out (``written_out``): printed as they are, the two would
read the same, and a direction override would reverse the rest of the message."""
import unicodedata

from labeling.items.invisible import is_invisible, without_invisible
from labeling.items.values import storable

INVISIBLE_NAME = ("empty once invisible characters (zero-width spaces, direction marks, fillers, variation "
                  "selectors, other format or control characters) are removed")
LOOK_ALIKE_RULE = "names that look the same, ignoring invisible characters and variants, count as one"


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


def spelled_out(name: str) -> str:
    """The name quoted, its invisible characters written out (``written_out``)."""
    return f"“{written_out(name)}”"


def label_exists_message(twin: str, name: str | None = None) -> str:
    """The label ``twin`` is in the way of ``name`` (the new or renamed one, when given and spelled
    differently): both written out, so that the lead sees what tells them apart."""
    message = f"A label named {spelled_out(twin)} already exists in this project ({LOOK_ALIKE_RULE})."
    if name is not None and name != twin:
        message += f" The new name, written out, is {spelled_out(name)}."
    return message


def label_name_key(name: str) -> str:
    """The name as it looks (invisible characters removed, NFKC, trimmed): two labels with one key
    look alike. Removed before NFKC, so that a mark kept from its letter by an invisible joiner
    composes with it ("a\\u034f\\u0301" is "á"), and after, should a compatibility form unfold into one."""
    return without_invisible(unicodedata.normalize("NFKC", without_invisible(name))).strip()
