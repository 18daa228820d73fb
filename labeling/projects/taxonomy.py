"""Checks on a project's whole label set, before a save writes any row (labels have two levels,
coarse and fine, and one top-level Other label)."""


def label_set_errors(final: dict, deleted: dict[int, str]) -> dict[str, list[str]]:
    """Why a project's labels cannot be ``final``, as {field: messages}; empty when they can.
    ``final``: every label the project will have, key → (name, parent key or None, is_other), where
    a key is a label id or any name for a new row; ``deleted``: id → name of labels removed in the
    same save. The whole set is checked at once, so the order rows are saved in decides nothing."""
    errors: dict[str, list[str]] = {}
    names = {key: name for key, (name, _, _) in final.items()}
    for key, (name, parent, _) in final.items():
        if parent is None:
            continue
        if parent == key:
            errors.setdefault("parent", []).append(f"“{name}” cannot be its own parent.")
        elif parent in deleted:
            errors.setdefault("parent", []).append(f"“{name}” cannot go under “{deleted[parent]}”: that label "
                                                   "is deleted in the same save.")
        elif parent not in final:
            errors.setdefault("parent", []).append(f"The parent of “{name}” is not a label of this project.")
        elif final[parent][1] not in (None, parent):  # a label under itself has its own message
            grand = names.get(final[parent][1], "another label")
            errors.setdefault("parent", []).append(
                f"“{name}” cannot go under “{names[parent]}”, which is itself under “{grand}”: taxonomies have "
                "two levels, coarse and fine.")
    others = sorted(name for name, parent, is_other in final.values() if is_other and parent is None)
    if len(others) > 1:
        errors["is_other"] = [f"Other is ticked on {' and '.join(f'“{n}”' for n in others)}; a project has one "
                              "top-level Other label (the answer “none of these”), so untick it on all but one."]
    return errors
