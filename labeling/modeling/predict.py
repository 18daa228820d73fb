"""Predictions of a project's active model for raw texts (the predict API)."""
from __future__ import annotations

from labeling.projects.models import Project
from learner.jsonable import to_jsonable

from .embedding import embed_query_texts
from .final import query_vectors
from .versions import NoActiveModel, active_model, load_classifier


def predict_texts(project: Project, texts: list[str]) -> list[dict]:
    """Predictions of the active model for raw texts (embedded through the cache), one dict per
    text from the classifier's ``decide``, plus every class's calibrated probability and the model
    version number."""
    version = active_model(project)
    if version is None:
        raise NoActiveModel(f"Project {project.slug!r} has no active model yet: label some items and retrain.")
    if not texts:
        return []
    clf = load_classifier(version)
    vectors = query_vectors(version, texts)  # a final model's fine-tuned encoder, else the frozen one
    proba = clf.predict_proba(embed_query_texts(texts) if vectors is None else vectors)
    names = [str(c) for c in clf.classes_]
    out = []
    for decision, row_proba in zip(clf.decide(None, proba=proba), proba, strict=True):
        row = to_jsonable(dict(decision))
        row["probabilities"] = {name: round(float(p), 4) for name, p in zip(names, row_proba, strict=True)}
        row["model_version"] = version.number
        out.append(row)
    return out
