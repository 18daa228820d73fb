"""Checks on a project's whole label set, before a save writes any row (labels have two levels,
coarse and fine, one top-level Other label, and no two names that look alike)."""

from .label_names import name_set_errors, spelled_out
from .models import Label


def label_set_errors(final: dict, deleted: dict[int, str], stored_names: dict[int, str] | None = None
                     ) -> dict[str, list[str]]:
    """Why a project's labels cannot be ``final``, as {field: messages}; empty when they can.
    ``final``: every label the project will have, key → (name, parent key or None, is_other), where
    a key is a label id or any name for a new row; ``deleted``: id → name of labels removed in the
    same save; ``stored_names``: id → name as stored (read here when not given). The whole set is
    checked at once, so the order rows are saved in decides nothing."""
    errors: dict[str, list[str]] = {}
    stored_ids = [key for key in final if isinstance(key, int)]
    if stored_names is None:
        stored_names = dict(Label.objects.filter(pk__in=stored_ids).values_list("pk", "name"))
    # One rule for every label path (label_names.name_set_errors: case, variants, invisible
    # characters, look-alike letters; only new or renamed names are judged).
    name_errors = name_set_errors({key: name for key, (name, _, _) in final.items()}, stored_names)
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
    others = sorted(name for name, parent, is_other in final.values() if is_other and parent is None)
    other_problems = []
    if len(others) > 1:
        other_problems.append(f"Other is ticked on {' and '.join(map(spelled_out, others))}; a project has one "
                              "top-level Other label (the answer “none of these”), so untick it on all but one.")
    for field, problem in other_with_fine_labels(final, Label.objects.filter(
            pk__in=stored_ids, is_other=True, parent__isnull=True).values_list("pk", flat=True)):
        (problems if field == "parent" else other_problems).append(problem)
    if problems:
        errors["parent"] = problems
    if other_problems:
        errors["is_other"] = other_problems
    return errors


def other_with_fine_labels(final: dict, stored_others) -> list[tuple[str, str]]:
    """(field, message) for each top-level Other label of ``final`` (as label_set_errors reads it) with
    fine labels under it: a "none of these" answer stores the Other label, so under a coarse label it
    would read as "one of these fine labels' group" to the coarse → fine model, the export and the
    figures. Said on ``parent`` when that label was the Other label already (``stored_others``: ids
    stored so), so fine labels are being put under it; on ``is_other`` when Other is being ticked on
    a coarse label."""
    found = []
    already_other = set(stored_others)
    for key, (name, parent, is_other) in final.items():
        if not is_other or parent is not None:
            continue
        children = [child for child, (_, above, _) in final.items() if above == key and child != key]
        if not children:
            continue
        listed = ", ".join(spelled_out(final[child][0]) for child in children)
        if key in already_other:
            found.append(("parent", f"{listed} cannot go under {spelled_out(name)}: that is the Other label (the "
                                    "answer “none of these”), which cannot be a coarse label with fine labels under "
                                    "it — “none of these” answers would count as answers in that group. Put them "
                                    "under another coarse label, or make them top-level labels."))
        else:
            found.append(("is_other", f"{spelled_out(name)} cannot be the Other label (the answer “none of these”): "
                                      f"it is a coarse label with fine labels under it ({listed}), and "
                                      "“none of these” answers would be stored as that group. Tick Other on a "
                                      "top-level label without fine labels, or move those fine labels first."))
    return found
