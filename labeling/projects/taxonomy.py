"""Checks on a project's whole label set, before a save writes any row (labels have two levels,
coarse and fine, one top-level Other label, and no two names that look alike)."""

from .label_names import INVISIBLE_NAME, label_exists_message, label_name_key, spelled_out
from .models import Label


def label_set_errors(final: dict, deleted: dict[int, str], stored_names: dict[int, str] | None = None
                     ) -> dict[str, list[str]]:
    """Why a project's labels cannot be ``final``, as {field: messages}; empty when they can.
    ``final``: every label the project will have, key → (name, parent key or None, is_other), where
    a key is a label id or any name for a new row; ``deleted``: id → name of labels removed in the
    same save; ``stored_names``: id → name as stored (read here when not given). The whole set is
    checked at once, so the order rows are saved in decides nothing."""
    errors: dict[str, list[str]] = {}
    if stored_names is None:
        stored_names = dict(Label.objects.filter(pk__in=[key for key in final if isinstance(key, int)])
                            .values_list("pk", "name"))
    name_errors = _name_errors(final, stored_names)
    if name_errors:
        errors["name"] = name_errors
    # Names are quoted written out (spelled_out): printed raw, a direction override in one would
    # reverse the rest of the message, and names apart only by an invisible character would read the same.
    names = {key: name for key, (name, _, _) in final.items()}
    problems = []
    for key, (name, parent, _) in final.items():
        if parent is None:
            continue
        if parent == key:
            problems.append(f"{spelled_out(name)} cannot be its own parent.")
        elif parent in deleted:
            problems.append(f"{spelled_out(name)} cannot go under {spelled_out(deleted[parent])}: that label is "
                            "deleted in the same save.")
        elif parent not in final:
            problems.append(f"The parent of {spelled_out(name)} is not a label of this project.")
        elif final[parent][1] not in (None, parent):  # a label under itself has its own message
            grand = final[parent][1]
            above = spelled_out(names[grand]) if grand in names else "“another label”"
            problems.append(f"{spelled_out(name)} cannot go under {spelled_out(names[parent])}, which is itself "
                            f"under {above}: taxonomies have two levels, coarse and fine.")
    if problems:
        errors["parent"] = problems
    others = sorted(name for name, parent, is_other in final.values() if is_other and parent is None)
    if len(others) > 1:
        errors["is_other"] = [f"Other is ticked on {' and '.join(map(spelled_out, others))}; a project has one "
                              "top-level Other label (the answer “none of these”), so untick it on all but one."]
    return errors


def _name_errors(final: dict, stored_names: dict[int, str]) -> list[str]:
    """Names empty once invisible characters are removed, and names that look like another's
    (label_name_key), as Label.clean and Label.validate_constraints read them; checked here on the
    whole set because a form's row checks may leave the project out (the admin's inline rows). A
    name kept as stored is not checked again, so look-alikes stored before stay editable."""
    errors = []
    groups: dict[str, list[tuple[str, bool]]] = {}  # key → [(name, kept as stored)]
    for key, (name, _, _) in final.items():
        if not name:
            continue  # the row's own check names a missing name
        kept = stored_names.get(key) == name
        look = label_name_key(name)
        if not look and not kept:
            errors.append(f"Name is {INVISIBLE_NAME}.")
        elif look:
            groups.setdefault(look, []).append((name, kept))
    for names in groups.values():
        if len(names) > 1 and not all(kept for _, kept in names):
            twin = next((name for name, kept in names if kept), names[0][0])
            new = next((name for name, kept in names if not kept and name != twin), None)
            errors.append(label_exists_message(twin, new))
    return list(dict.fromkeys(errors))  # one message for several invisible-only names


def first_look_alike(names: list[str], spelled: dict[str, str]) -> tuple[str, str] | None:
    """(name, the name it looks like) for the first of ``names`` that looks like (label_name_key) a
    name written differently in ``spelled`` (label_name_key → name) or before it in ``names``; None
    when none does. The same name written again is no look-alike."""
    seen = dict(spelled)
    for name in names:
        first = seen.setdefault(label_name_key(name), name)
        if first != name:
            return name, first
    return None
