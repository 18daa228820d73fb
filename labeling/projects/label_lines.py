"""A new project's label lines ("billing", "billing > refund") as services.create_project reads and
creates them; the page's form checks its box with parse_label_lines before the creation does."""
from django.core.exceptions import ValidationError

from .hotkeys import HOTKEY_ORDER
from .label_names import label_line_problem, look_alike_key, other_label_line_problem, spelled_out
from .models import Label, Project

OTHER_HOTKEY = "0"  # the Other label's key: none of these (new labels get hotkeys.HOTKEY_ORDER)
OTHER_NAMES = ("other", "none of these")
OTHER_NAME = "Other"  # the Other label a new project gets when none of its lines is one
HIERARCHY_SEPARATOR = ">"
LABEL_NAME_MAX = Label._meta.get_field("name").max_length


def parse_label_lines(lines, *, other_label: bool = False) -> list[tuple[str, str | None]]:
    """Label lines of the new-project form (and API): "billing" is a label, "billing > refund" a
    fine label refund under the coarse label billing (created once, however often it is named).
    Returns [(name, parent name or None)], each coarse label before its fine ones. A bad line is
    refused with its line number, as are a name Label.clean refuses (invisible characters only, scripts mixed in a
    word) and one that looks like another line's (look_alike_key, as Label.validate_constraints reads names).
    ``other_label``: the Other label is added unless a top-level line names it, so no line may look like it."""
    rows: dict[str, str | None] = {}
    where: dict[str, int] = {}
    spelled: dict[str, str] = {}  # look_alike_key → the name as first written
    errors = []
    for number, line in enumerate(lines, start=1):
        if not line or not line.strip():
            continue
        parts = [part.strip() for part in line.split(HIERARCHY_SEPARATOR)]
        if len(parts) > 2:
            errors.append(f"Line {number} ({spelled_out(line.strip())}): labels have two levels, coarse > fine.")
            continue
        if not all(parts):
            errors.append(f"Line {number} ({spelled_out(line.strip())}): a name is missing on one side of “>”.")
            continue
        if any(len(part) > LABEL_NAME_MAX for part in parts):
            errors.append(f"Line {number}: a label name has at most {LABEL_NAME_MAX} characters.")
            continue
        if problem := label_line_problem(parts, spelled, where, number):
            errors.append(problem)
            continue
        if len(parts) == 1:
            name, parent = parts[0], None
        else:
            parent, name = parts
            if rows.get(parent) is not None:
                errors.append(f"Line {number}: {spelled_out(parent)} is a fine label (line {where[parent]}), "
                              "so it cannot have fine labels under it.")
                continue
            rows.setdefault(parent, None)
            where.setdefault(parent, number)
            spelled.setdefault(look_alike_key(parent), parent)
        if name in rows and rows[name] != parent:
            errors.append(f"Line {number}: {spelled_out(name)} is already named on line {where[name]}; "
                          "label names are unique within a project.")
            continue
        if name not in rows:
            rows[name], where[name] = parent, number
            spelled[look_alike_key(name)] = name
    if other_label and not any(parent is None and name.lower() in OTHER_NAMES for name, parent in rows.items()):
        if problem := other_label_line_problem(where, OTHER_NAME):
            errors.append(problem)
    if errors:
        raise ValidationError({"labels": errors})
    coarse = [name for name, parent in rows.items() if parent is None]
    ordered = []
    for name in coarse:
        ordered.append((name, None))
        ordered += [(fine, parent) for fine, parent in rows.items() if parent == name]
    return ordered


def create_labels(project: Project, rows: list[tuple[str, str | None]], *, other_label: bool) -> None:
    """Labels in line order, hotkeys by new_label_hotkeys; the Other label (named so, or added when
    ``other_label``) is marked as such and gets 0, the annotators' "none of these" key."""
    other = next((name for name, parent in rows if parent is None and name.lower() in OTHER_NAMES), None)
    if other is None and other_label:
        rows, other = [*rows, (OTHER_NAME, None)], OTHER_NAME
    hotkeys = new_label_hotkeys(rows, other)
    created: dict[str, Label] = {}
    for order, (name, parent) in enumerate(rows):
        is_other = name == other
        created[name] = Label.objects.create(
            project=project, name=name, order=order, hotkey=hotkeys[name], is_other=is_other,
            parent=created[parent] if parent else None,
            description="Items that none of the other labels fits." if is_other else "")


def new_label_hotkeys(rows: list[tuple[str, str | None]], other: str | None) -> dict[str, str]:
    """{name: hotkey} for new labels [(name, parent name or None)]: the Other label gets 0, the
    top-level labels the first keys of HOTKEY_ORDER in line order, then the fine labels, in line
    order, what is left ("" once the keys run out). Top-level labels come first because the
    annotation page opens a coarse label's fine labels with the coarse label's key: a coarse label
    without one cannot be opened from the keyboard, while a fine label can still be found with "/"."""
    keys = iter(HOTKEY_ORDER)
    top = [name for name, parent in rows if parent is None and name != other]
    fine = [name for name, parent in rows if parent is not None]
    hotkeys = {name: next(keys, "") for name in [*top, *fine]}
    if other is not None:
        hotkeys[other] = OTHER_HOTKEY
    return hotkeys
