"""Predictions of a project's active model for raw texts (the predict API)."""
from __future__ import annotations

from labeling.projects.models import Project
from learner.jsonable import to_jsonable

from .embedding import embed_query_texts
from .final import query_vectors
from .selectors import model_labels
from .versions import NoActiveModel, active_model, load_classifier

# The keys of a decision (learner.training.TrainedClassifier.decide) that name a label.
LABEL_KEYS = ("label", "coarse_label", "fine_label")


def predict_texts(project: Project, texts: list[str]) -> list[dict]:
    """Predictions of the active model for raw texts (embedded through the cache), one dict per
    text from the classifier's ``decide``, plus every class's calibrated probability and the model
    version number.

    Labels are named as they are now: the classifier answers with the names it learned, and each
    is mapped to the current name of the label it was when the version trained (a renamed label
    answers by its new name; two labels that swapped names, each by its own). A class whose label
    was deleted since answers ``label: null`` with ``needs_review: true`` (no label of the
    project stands for it) and has no entry in ``probabilities``."""
    version = active_model(project)
    if version is None:
        raise NoActiveModel(f"Project {project.slug!r} has no active model yet: label some items and retrain.")
    if not texts:
        return []
    clf = load_classifier(version)
    vectors = query_vectors(version, texts)  # a final model's fine-tuned encoder, else the frozen one
    proba = clf.predict_proba(embed_query_texts(texts) if vectors is None else vectors)
    labels = model_labels(version)
    names = [labels.current_name(str(c)) for c in clf.classes_]
    out = []
    for decision, row_proba in zip(clf.decide(None, proba=proba), proba, strict=True):
        row = to_jsonable(dict(decision))
        for key in LABEL_KEYS:
            if row.get(key) is not None:
                row[key] = labels.current_name(str(row[key]))
        if row["label"] is None:
            row["needs_review"] = True
        row["probabilities"] = {name: round(float(p), 4) for name, p in zip(names, row_proba, strict=True)
                                if name is not None}
        row["model_version"] = version.number
        out.append(row)
    return out
