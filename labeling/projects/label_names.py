"""What a label name looks like: two names that read the same once Unicode variants (NFKC) and
invisible characters (format and control: zero-width spaces, direction marks, soft hyphens) are
set aside are one name. Every path that names labels (the model's checks, the labels pages, the
new-project lines, imports) compares names this way and says so in the same words. A message that
says two names look alike writes their invisible characters out (``written_out``): printed as they
are, the two would read the same, and a direction override would reverse the rest of the message."""
import unicodedata

from labeling.items.values import storable

INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc"})  # format (zero-width, bidi controls, soft hyphen), control


INVISIBLE_NAME = ("empty once invisible characters (zero-width spaces, direction marks, other format or control "
                  "characters) are removed")
LOOK_ALIKE_RULE = "names that look the same, ignoring invisible characters and variants, count as one"


def written_out(name: str, limit: int = 200) -> str:
    """The name with its invisible characters written as \\uXXXX (cut to ``limit`` characters first,
    NUL and lone surrogates escaped as ``storable`` does), so that look-alikes read apart."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in INVISIBLE_CATEGORIES else c
                   for c in storable(name, limit))


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
    """The name as it looks (NFKC, invisible characters removed, trimmed): two labels with one key look alike."""
    return "".join(c for c in unicodedata.normalize("NFKC", name)
                   if unicodedata.category(c) not in INVISIBLE_CATEGORIES).strip()
