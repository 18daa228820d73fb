"""What a label name looks like: two names that read the same once Unicode variants (NFKC) and
invisible characters (format and control: zero-width spaces, direction marks, soft hyphens) are
set aside are one name. Every path that names labels (the model's checks, the labels pages, the
new-project lines, imports) compares names this way and says so in the same words."""
import unicodedata

from labeling.items.values import storable

INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc"})  # format (zero-width, bidi controls, soft hyphen), control


INVISIBLE_NAME = ("empty once invisible characters (zero-width spaces, direction marks, other format or control "
                  "characters) are removed")
LOOK_ALIKE_RULE = "names that look the same, ignoring invisible characters and variants, count as one"


def label_exists_message(twin: str) -> str:
    return f"A label named “{storable(twin, 200)}” already exists in this project ({LOOK_ALIKE_RULE})."


def label_name_key(name: str) -> str:
    """The name as it looks (NFKC, invisible characters removed, trimmed): two labels with one key look alike."""
    return "".join(c for c in unicodedata.normalize("NFKC", name)
                   if unicodedata.category(c) not in INVISIBLE_CATEGORIES).strip()
