"""Predictions of a project's active model for raw texts (the predict API)."""
from __future__ import annotations

from labeling.projects.models import Label, Project
from learner.jsonable import to_jsonable

from .final import query_vectors
from .selectors import model_labels
from .versions import NoActiveModel, active_model, load_classifier

# The keys of a decision (learner.training.TrainedClassifier.decide) that name a label.
LABEL_KEYS = ("label", "coarse_label", "fine_label")


def predict_texts(project: Project, texts: list[str]) -> list[dict]:
    """Predictions of the active model for raw texts (embedded through the cache), one dict per
    text from the classifier's ``decide``, plus every class's calibrated probability and the model
    version number. EncoderFolderMissing (409 in the API) when the version's encoder cannot be
    loaded on this host.

    Labels are named as they are now: the classifier answers with the names it learned, and each
    is mapped to the current name of the label it was when the version trained (a renamed label
    answers by its new name; two labels that swapped names, each by its own). A class whose label
    was deleted since answers ``label: null`` with ``needs_review: true`` (no label of the
    project stands for it) and has no entry in ``probabilities``.

    With coarse → fine labels, ``coarse_label`` is the taxonomy as it is now: a fine label's
    current coarse label (itself when it is top-level now), though the model learned it under
    another; a fallback (``label`` is a coarse label) keeps the coarse label the model chose. Where
    the model's taxonomy differs from today's for a row (a fine label moved since, or a fallback to a
    coarse label deleted since or no longer holding the fine candidate) the row says so in
    ``taxonomy_note``: the model learns the new taxonomy at the next retrain."""
    version = active_model(project)
    if version is None:
        raise NoActiveModel(f"Project {project.slug!r} has no active model yet: label some items and retrain.")
    if not texts:
        return []
    clf = load_classifier(version)
    # The encoder the version trained on (a final model's fine-tuned one, else the frozen backend it
    # recorded), whatever LONGTAIL_ENCODER_BACKEND says now: its head is only right on those vectors.
    proba = clf.predict_proba(query_vectors(version, texts))
    current = {pk: (name, parent) for pk, name, parent in
               Label.objects.filter(project=project).values_list("id", "name", "parent_id")}
    labels = model_labels(version, {pk: name for pk, (name, _) in current.items()})
    names = [labels.current_name(str(c)) for c in clf.classes_]
    out = []
    for decision, row_proba in zip(clf.decide(None, proba=proba), proba, strict=True):
        row = to_jsonable(dict(decision))
        note = taxonomy_note(row, labels, current) if row.get("coarse_label") is not None else None
        for key in LABEL_KEYS:
            if row.get(key) is not None:
                row[key] = labels.current_name(str(row[key]))
        if note is not None:
            row["coarse_label"], row["taxonomy_note"] = note
        if row["label"] is None:
            row["needs_review"] = True
        row["probabilities"] = {name: round(float(p), 4) for name, p in zip(names, row_proba, strict=True)
                                if name is not None}
        row["model_version"] = version.number
        out.append(row)
    return out


def taxonomy_note(row: dict, labels, current: dict) -> tuple[str | None, str] | None:
    """(coarse label now, note) for a coarse → fine decision ``row`` (names as the model learned
    them) whose taxonomy is no longer the project's (``current``: label id → (name, parent id)); None
    when it still is. A fine prediction stands as the model learned it, and its coarse label is the
    lead's taxonomy now (as the export writes it); a fallback names the coarse label it chose."""
    learned_coarse, fallback = str(row["coarse_label"]), bool(row.get("fallback"))
    fine = str(row["fine_label"] if fallback else row["label"])
    fine_id, coarse_id = labels.label_id(fine), labels.label_id(learned_coarse)
    fine_now = current.get(fine_id)
    if fallback:
        if coarse_id not in current:
            return None, (f"the model fell back to the coarse label {learned_coarse!r}, which has been deleted "
                          "since it trained; retrain for the current labels")
        if fine_now is not None and fine_id != coarse_id and fine_now[1] != coarse_id:
            return current[coarse_id][0], (f"the model learned {fine_now[0]!r} under {current[coarse_id][0]!r}; it is "
                                           "no longer there, so this fallback follows the model's old taxonomy until "
                                           "the next retrain")
        return None
    if fine_now is None:
        return None  # the label is gone: label and coarse_label null (needs_review)
    now_id = fine_now[1] if fine_now[1] is not None else fine_id  # a top-level label is its own branch
    if now_id == coarse_id:
        return None
    was = repr(current[coarse_id][0]) if coarse_id in current else f"{learned_coarse!r} (deleted since)"
    where = "a top-level label" if fine_now[1] is None else f"under {current[now_id][0]!r}"
    return current[now_id][0], (f"{fine_now[0]!r} is {where} now; the model learned it under "
                                f"{was} and learns the new taxonomy at the next retrain")
