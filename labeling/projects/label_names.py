"""Label names as a lead's paths check and quote them (the model's checks, the labels page, the
new-project lines, the API, the admin's label rows), by the rule imports read them by too
(labeling.items.look_alike: names that read the same ignoring case, invisible characters, variants
and Cyrillic or Greek letters that print as Latin ones are one name; a new name does not mix Latin
with those scripts in a word). Only a new or renamed name is judged, so that labels stored together
before the rule stay editable. A message that says two names look alike writes their invisible
characters and look-alike letters out (``quoted_apart``): printed as they are, the two would read
the same, and a direction override would reverse the rest of the message. Names are stored composed
(``composed_name``, Unicode NFC), the form keyboards type, so that a name pasted from decomposed
text (macOS, Hangul as jamo) is the same stored string as the one typed."""
import unicodedata

from labeling.items.look_alike import (
    LOOK_ALIKE_FULL_RULE,
    LOOK_ALIKE_RULE,
    label_name_key,
    look_alike_key,
    look_alike_rule,
    mixed_scripts,
    shown_apart,
    written_out,
)
from learner.heads.other_bucket import OTHER as RESERVED_OTHER_BUCKET

__all__ = ["INVISIBLE_NAME", "composed_name", "decomposed", "LOOK_ALIKE_FULL_RULE", "LOOK_ALIKE_RULE", "first_look_alike", "label_exists_message",
           "label_line_problem", "other_label_line_problem", "reserved_name_problem", "source_name_errors",
           "label_name_key", "look_alike_key", "mixed_name_problem", "name_set_errors", "named_like", "quoted_apart", "spelled_out",
           "written_out"]

INVISIBLE_NAME = ("empty once invisible characters (zero-width spaces, direction marks, fillers, variation "
                  "selectors, other format or control characters) are removed")


def composed_name(name: str) -> str:
    """A label or source name as stored and looked up: Unicode NFC. "O" + U+0308 and "Ö", or Hangul
    jamo and the syllable they spell, are canonically equivalent (the same text by Unicode's rules,
    printed alike), not look-alikes: stored as sent, a name pasted from decomposed text never equalled
    the one typed, and the import refused the typed one with a message showing two identical names."""
    return unicodedata.normalize("NFC", name)


def decomposed(value) -> str | None:
    """Why a file's label or source name cannot be looked up: it is not composed (NFC), the form names
    are stored and looked up in; None when it is. The readers compose the names they read, so that
    "O" + U+0308 from macOS text is the label "Ödeme" in the check and in the write, which reads the
    file again; a name that still arrives decomposed is refused, not judged a look-alike of itself,
    nor found by the check and missed by the write."""
    if not isinstance(value, str) or value == composed_name(value):
        return None
    return f"'{written_out(value)}' is written decomposed (Unicode NFD); send it composed (NFC)"


def spelled_out(name: str) -> str:
    """The name quoted, its invisible characters written out (``written_out``)."""
    return f"“{written_out(name)}”"


def quoted_apart(name: str, other: str | None = None) -> str:
    """The name quoted, its invisible characters and the letters that print as Latin ones but are
    not written out where they tell it apart (``shown_apart``; ``other``: the name a message sets it
    beside): two look-alikes quoted so read apart, a name in its own script as written."""
    return f"“{shown_apart(name, other)}”"


def label_exists_message(twin: str, name: str | None = None) -> str:
    """The label ``twin`` is in the way of ``name`` (the new or renamed one, when given and spelled
    differently): both written out, so that the lead sees what tells them apart."""
    rule = look_alike_rule(name, twin) if name is not None else LOOK_ALIKE_RULE
    message = f"A label named {quoted_apart(twin, name)} already exists in this project ({rule})."
    if name is not None and name != twin:
        message += f" The new name, written out, is {quoted_apart(name, twin)}."
    return message


def reserved_name_problem(name: str, subject: str = "Name") -> str | None:
    """Why ``name`` cannot be a new or renamed label's name: it looks like (look_alike_key) the name the
    model gives its long-tail bucket of rare labels (learner.heads.other_bucket.OTHER), and training
    refuses a label so named, so every retrain would fail; None when it does not. The project's own
    Other label ("none of these") is a label like the others and is named differently."""
    if look_alike_key(name) != look_alike_key(RESERVED_OTHER_BUCKET):
        return None
    return (f"{subject} {quoted_apart(name)} is refused: “{RESERVED_OTHER_BUCKET}” is reserved for the model's "
            "long-tail bucket of rare labels, and a label so named would make every retrain fail. Choose another "
            "name (the answer “none of these” is the project's Other label, named e.g. “Other”).")


def mixed_name_problem(name: str, subject: str = "Name") -> str | None:
    """Why ``name`` cannot be a new or renamed label's name though it looks like no other label's: it
    mixes Latin with Cyrillic or Greek letters in a word (said of ``subject``); None when it does not.
    Checked after the look-alikes, so that a name like another is told which one."""
    mixed = mixed_scripts(name)
    return f"{subject} {quoted_apart(name)} is refused: {mixed}." if mixed else None


def name_set_errors(names: dict, stored_names: dict[int, str]) -> list[str]:
    """Why a project's labels cannot have ``names`` (key → name of every label the project will
    have; a key is a label id, or anything for a new row): a new or renamed name with nothing visible
    or like the model's reserved bucket name (reserved_name_problem), names that look alike (look_alike_key) of which one is new or renamed, and a new or renamed name
    that looks like none but mixes scripts in a word. ``stored_names``: id → name as stored; a name kept
    as stored is not judged again, so look-alikes stored before stay editable."""
    errors = []
    groups: dict[str, list[tuple[str, bool]]] = {}  # look_alike_key → [(name, kept as stored)]
    for key, name in names.items():
        if not name:
            continue  # the row's own check names a missing name
        kept = stored_names.get(key) == name
        if not kept and (reserved := reserved_name_problem(name)):
            errors.append(reserved)
        elif label_name_key(name):
            groups.setdefault(look_alike_key(name), []).append((name, kept))
        elif not kept:
            errors.append(f"Name is {INVISIBLE_NAME}.")
    for group in groups.values():
        if len(group) > 1 and not all(kept for _, kept in group):
            twin = next((name for name, kept in group if kept), group[0][0])
            new = next((name for name, kept in group if not kept and name != twin), None)
            errors.append(label_exists_message(twin, new))
        else:
            errors += [problem for name, kept in group if not kept and (problem := mixed_name_problem(name))]
    return list(dict.fromkeys(errors))  # one message for several invisible-only names


def first_look_alike(names: list[str], spelled: dict[str, str]) -> tuple[str, str] | None:
    """(name, the name it looks like) for the first of ``names`` that looks like (look_alike_key) a
    name written differently in ``spelled`` (look_alike_key → name) or before it in ``names``; None
    when none does. The same name written again is no look-alike."""
    seen = dict(spelled)
    for name in names:
        first = seen.setdefault(look_alike_key(name), name)
        if first != name:
            return name, first
    return None


def label_line_problem(parts: list[str], spelled: dict[str, str], where: dict[str, int], line: int) -> str | None:
    """Why label line ``line`` of a new project (``parts``: a name, or a coarse and a fine one) cannot
    be: a name with nothing visible, one that looks like a name of an earlier line (``spelled``:
    look_alike_key → name as first written; ``where``: name → its line) or of the line itself, or one
    that mixes scripts in a word; None when it can be."""
    if not all(label_name_key(part) for part in parts):
        return f"Line {line}: a label name is {INVISIBLE_NAME}."
    if reserved := next((problem for part in parts if (problem := reserved_name_problem(part, "a label name"))), None):
        return f"Line {line}: {reserved}"
    if twin := first_look_alike(parts, spelled):
        part, first = twin
        return (f"Line {line}: {quoted_apart(part, first)} looks like {quoted_apart(first, part)}, already named on line "
                f"{where.get(first, line)}; label names are unique within a project ({look_alike_rule(part, first)}).")
    return next((f"Line {line}: {problem}" for part in parts if (problem := mixed_name_problem(part, "a label name"))),
                None)


def named_like(labels, name: str):
    """The first of ``labels`` (Label rows) whose name looks like ``name`` (look_alike_key), or None:
    a label the project already has under that name, however it is cased or spelled."""
    key = look_alike_key(name)
    return next((label for label in labels if look_alike_key(label.name) == key), None)


def other_label_line_problem(where: dict[str, int], other: str) -> str | None:
    """Why a new project's label lines (``where``: name → its line) cannot go with the Other label
    ``other`` it gets besides them: a line whose name looks like it (look_alike_key), a fine label
    "a > Other" say, which the unique name refused at the insert (a 500) and "a > other" made a
    look-alike pair the labels page refuses; None when none does."""
    key = look_alike_key(other)
    name = next((name for name in where if look_alike_key(name) == key), None)
    if name is None:
        return None
    return (f"Line {where[name]}: {quoted_apart(name, other)} looks like {quoted_apart(other, name)}, the name of the Other label "
            f"the project gets (“Add an Other label”); label names are unique within a project "
            f"({look_alike_rule(name, other)}). Rename that label, or make it a top-level line named {other}, "
            "which then is the Other label.")


def control_characters(name: str) -> str | None:
    """The control characters (tab, line break …) in ``name``, written out, or None: a name is one line."""
    found = dict.fromkeys(char for char in name if unicodedata.category(char) == "Cc")
    return ", ".join(written_out(char) for char in found) or None


def source_name_errors(names: dict, stored_names: dict[int, str]) -> list[str]:
    """Why a project's sources cannot have ``names`` (key → name of every source it will have; a key is
    a source id, or anything for a new one), by the label names' rules: a new or renamed name with a
    control character or nothing visible, two names that look alike (look_alike_key: "web" and "Web"
    split quotas and filters in ways nobody sees) of which one is new or renamed, a new name mixing
    scripts in a word. ``stored_names``: id → name as stored; a name kept as stored is not judged again."""
    errors = []
    groups: dict[str, list[tuple[str, bool]]] = {}
    for key, name in names.items():
        kept = stored_names.get(key) == name
        if kept:
            groups.setdefault(look_alike_key(name), []).append((name, kept))
        elif controls := control_characters(name):
            errors.append(f"Source name {spelled_out(name)} contains control characters ({controls}); "
                          "a source name is one line.")
        elif not label_name_key(name):
            errors.append(f"A source name is {INVISIBLE_NAME}.")
        else:
            groups.setdefault(look_alike_key(name), []).append((name, kept))
    for group in groups.values():
        if len(group) > 1 and not all(kept for _, kept in group):
            twin = next((name for name, kept in group if kept), group[0][0])
            new = next((name for name, kept in group if name != twin), twin)
            errors.append(f"Source names {quoted_apart(twin, new)} and {quoted_apart(new, twin)} look alike; source names are "
                          f"unique within a project ({look_alike_rule(new, twin)}).")
        else:
            errors += [problem for name, kept in group if not kept
                       and (problem := mixed_name_problem(name, "Source name"))]
    return list(dict.fromkeys(errors))

