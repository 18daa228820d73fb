"""Keys the annotation and review pages keep for themselves, and the check every label hotkey passes.

One list per page, read by the label model's ``clean()`` (so the labels page, the admin and every
service that saves a label refuse the same keys), by the label API's serializer, by the annotation
page (its Keys panel is drawn from ``PAGE_KEYS``), by the review page's key list and by the README
test. A label with a reserved key could never be picked by keyboard: the page would do the key's
own action instead.
"""
import unicodedata
from collections import defaultdict

from django import forms
from django.core.exceptions import ValidationError

from .label_names import written_out

# The "none of these" key: the project's Other label carries it (or the page's built-in
# "None of these" answer when the project has no Other label).
NONE_KEY = "0"

# key as typed → what the annotation page does with it. Multi-character names are the browser's
# KeyboardEvent.key values (a hotkey is one character, but the API may be sent anything).
RESERVED_KEYS = {
    "/": "filter labels",
    ".": "skip with a reason",
    "?": "show or hide the keys",
    NONE_KEY: "none of these",
    "=": "accept the suggestion",
    "[": "reopen an older answer",
    "]": "back to the current item",
    " ": "scroll the text",
    "Space": "scroll the text",
    "Enter": "keep the open coarse label / start the next batch",
    "Escape": "close or go back",
    "Backspace": "reopen your last answer",
    "Delete": "clear the reopened answer",
    "Tab": "move the focus",
    "PageDown": "scroll the text", "PageUp": "scroll the text",
    "ArrowDown": "scroll the text / next history row", "ArrowUp": "scroll the text / previous history row",
    "Home": "top of the text", "End": "end of the text",
}


# The review queue's own keys (static/js/review/main.js; its key list in templates/annotations/review.html
# carries the same keys as data-page-key). They compare case-insensitively: the page relabels with a
# label's key typed with or without Shift, and X (Shift+x) selects a whole group.
REVIEW_KEYS = {
    "j": "next task", "k": "previous task", "x": "select for a bulk action", "a": "accept the model's label",
    "d": "dismiss", "r": "choose another label",
}
# Hotkeys handed out to a new project's labels, top-level labels first (label_lines.new_label_hotkeys;
# "0" is the Other label's: none of these):
# digits, then letters, less the review queue's keys.
HOTKEY_ORDER = "".join(k for k in "123456789qwertyuiopasdfghjklzxcvbnm" if k not in REVIEW_KEYS)


def key_name(key: str) -> str:
    """How a message shows a key: printable keys quoted, the space bar and named keys by name."""
    if key == " ":
        return "Space"
    return f"“{key}”"


# Why the project's top-level Other label may not be moved under a coarse label (said on ``parent``: the
# key 0 it holds would be refused too, but the lead moved the label, not its key).
OTHER_STAYS_TOP = ("This is the project's Other label (the answer “none of these”, key 0), which stays top-level: it "
                   "cannot go under a coarse label. To move it, untick Other on it and give it another key first "
                   "(tick Other on another top-level label to keep a “none of these” answer).")


def moves_the_other_label(stored_other: bool, is_other: bool, parent_id) -> bool:
    """True when a label stored as the project's top-level Other label would go under a label, still Other."""
    return stored_other and is_other and parent_id is not None


def hotkey_error(hotkey: str, *, is_other: bool = False, parent_id=None, stored: str = "") -> str | None:
    """Why ``hotkey`` cannot be this label's hotkey, or None when it can. The project's top-level
    Other label may (and should) carry the none-of-these key.

    ``stored`` is the label's hotkey as saved. A label that got one of the review queue's keys
    before they were reserved keeps it: annotators know their labels by key, and moving it would
    change what a learned key does on the annotation page. On the review page the page's own key
    wins (a label that holds one is not listed as a relabel key there and is chosen with r); only
    giving a label such a key anew is refused."""
    if not hotkey:
        return None
    if hotkey == NONE_KEY and is_other and parent_id is None:
        return None
    review_action = REVIEW_KEYS.get(hotkey.lower())
    if review_action and hotkey.lower() != (stored or "").lower():
        return (f"Hotkey {key_name(hotkey)} is reserved: on the review page it means “{review_action}”, so a "
                "label with it could never be picked there by keyboard; pick another key.")
    for key, action in RESERVED_KEYS.items():
        if hotkey == key or (len(hotkey) > 1 and hotkey.lower() == key.lower()):
            if key == NONE_KEY:
                return (f"Hotkey {key_name(key)} is reserved: it answers “none of these” on the annotation page "
                        "(only the project's top-level Other label may use it); pick another key.")
            return (f"Hotkey {key_name(key)} is reserved: on the annotation page it "
                    f"means “{action}”, so a label with it could never be picked by keyboard; pick another key.")
    if len(hotkey) != 1:
        return _not_one_character(hotkey)
    if _generic_combining_mark(hotkey):
        return (f"Hotkey “\u25cc{hotkey}” (U+{ord(hotkey):04X}) is a combining mark that only changes the "
                "character before it, not a key pressed alone: give a single letter, digit or sign.")
    if hotkey.isspace() or not hotkey.isprintable():
        return "A hotkey must be a visible character, not white space or a control key."
    return None


# Blocks of combining marks shared by all scripts (accents, tildes, enclosing circles): they print
# on the character before them, and no key types one alone (a dead key types the accented letter,
# which is the hotkey to give). Marks of a script's own block stay keys: an Indic keyboard (InScript)
# types a vowel sign or the visarga with a key of its own.
GENERIC_COMBINING_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


def _generic_combining_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M") and any(
        low <= ord(char) <= high for low, high in GENERIC_COMBINING_BLOCKS)


def normalized_hotkey(hotkey: str) -> str:
    """The hotkey as a key types it: Unicode NFC, the form keyboards and the page's KeyboardEvent.key
    use, so a decomposed "e" + U+0301 is the one character "é". Paths that store a hotkey
    normalise it with this before ``hotkey_error`` judges it."""
    return unicodedata.normalize("NFC", hotkey)


def _not_one_character(hotkey: str) -> str:
    """Why a hotkey of several code points is not one key. One that NFC composes into a single
    character is a key, written decomposed (stored so it would never equal what the key types,
    and it would not fit the one-character column): the message gives the character to send. A
    letter with combining marks nothing composes ("q" + U+0301) is one character on screen, but no
    key types it."""
    composed = normalized_hotkey(hotkey)
    if len(composed) == 1:
        return (f"Hotkey “{composed}” is written decomposed, as {len(hotkey)} characters (a letter and combining "
                f"marks): send it as the one character “{composed}” that its key types (Unicode NFC).")
    if not unicodedata.category(composed[0]).startswith("M") and all(map(_generic_combining_mark, composed[1:])):
        return (f"Hotkey “{composed}” is not one key: it is a letter with a combining mark that no key types as "
                "one character; give a single letter, digit or sign.")
    return f"Hotkey “{hotkey}” is not one key: give a single letter, digit or sign."


def check_unique_hotkeys(rows) -> None:
    """rows: iterable of (label name, hotkey). Two labels of one project never share a hotkey."""
    by_key = defaultdict(list)
    for name, hotkey in rows:
        if hotkey:
            by_key[hotkey.lower()].append(name)
    clashes = [f"“{written_out(key)}” is used by {', '.join(written_out(name) for name in sorted(names))}" for key, names in sorted(by_key.items())
               if len(names) > 1]
    if clashes:
        raise ValidationError(f"Hotkeys must be unique within a project: {'; '.join(clashes)}.", code="hotkey_clash")


# What the Keys panel lists, in order (keys as shown, what they do). The README's Annotators
# paragraph and a test hold both to this list.
PAGE_KEYS = [
    ("1–9, letters", "the label with that hotkey; a coarse label opens its fine labels"),
    ("Enter", "keep the open coarse label (or start the next batch)"),
    ("Esc", "close the open coarse label, the skip form or a reopened answer"),
    ("/", "filter labels; Enter picks the first match"),
    (NONE_KEY, "none of these"),
    (".", "skip, with a reason"),
    ("Backspace", "reopen your last answer (again: the one before); a label key then changes it"),
    ("Delete", "clear the reopened answer (the item waits for an answer again)"),
    ("[ ]", "walk back / forward through your answers in History"),
    ("=", "accept the model's suggestion (when the project shows suggestions)"),
    ("PageDown PageUp ↓ ↑ Space", "scroll a long text (Space scrolls down; it never answers)"),
    ("?", "show or hide this list"),
]


class HotkeyField(forms.CharField):
    """A hotkey read as typed (NFC) before the one-character limit: "e" + U+0301 is the one key "é"
    (the labels page and the admin's label rows)."""

    def to_python(self, value):
        return normalized_hotkey(super().to_python(value))
