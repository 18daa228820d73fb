"""The routing rule of the review queue: how the served model's decision on a prediction (its
``decide``, with thresholds, coarse thresholds and fallback floor) and the project's uncertainty
band make it doubtful, and what a low-confidence task records of it. Pool routing
(``review.route_review``) and the predict API's gate (``review.ReviewGate``) share it, so a
prediction is doubtful or not whichever way it came.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from learner.jsonable import to_jsonable
from learner.scoring import stored_rows
from learner.training import TrainedClassifier

from . import selectors
from .models import ModelVersion
from .versions import NoActiveModel, load_classifier


@dataclass(frozen=True)
class Judgement:
    """A prediction as routing reads it: the class a task proposes (the fine candidate), its
    probability, why it is doubtful ("" if not), on a coarse fallback the coarse label emitted."""
    column: int | None
    prob: float
    why: str
    fallback: dict | None = None


CONFIDENT = Judgement(None, 0.0, "")  # a prediction routing does not doubt


def project_band(project) -> tuple[float, float]:
    return float(project.band_low), float(project.band_high)


def decision_rule(version: ModelVersion) -> TrainedClassifier:
    """The served model's ``decide`` (with its taxonomy, coarse thresholds and fallback floor) over
    the thresholds stored on the version, as training stored them; flat without an artifact."""
    try:
        served = load_classifier(version)
        taxonomy = {"coarse_thresholds": served.coarse_thresholds, "parents": served.parents,
                    "fine_floor": served.fine_floor}
    except NoActiveModel:
        taxonomy = {}
    stored = {name: value for name, value in (version.thresholds or {}).items() if isinstance(value, int | float)}
    return TrainedClassifier(SimpleNamespace(classes_=list(version.label_map)), thresholds=stored, **taxonomy)


def doubtful_decisions(rule: TrainedClassifier, band: tuple[float, float], top, top_prob, probs) -> list[dict | None]:
    """The served model's decision on stored score rows (top class, its probability, float16
    probability row), or None where routing does not doubt it."""
    if not len(probs):
        return []
    proba = stored_rows(probs, top, top_prob)
    return [decision if decision["needs_review"] or band[0] <= decision.get("fine_prob", decision["prob"]) <= band[1]
            else None for decision in rule.decide(None, proba=proba)]


def judge_decision(rule: TrainedClassifier, labels: selectors.ModelLabels, band: tuple[float, float],
               decision: dict) -> Judgement:
    """A row of ``rule.decide`` (classes by the names the version learned) as routing reads it."""
    emitted, fallback = decision["label"], decision["fallback"]
    prob = float(decision.get("fine_prob", decision["prob"]))
    threshold = (rule.coarse_thresholds if fallback else rule.thresholds).get(emitted, 0.0)
    shown = labels.shown(emitted)
    coarse = {"label": shown, "prob": round(decision["prob"], 4), "threshold": threshold} if fallback else None
    return Judgement(labels.column(decision.get("fine_label", emitted)), prob,
                     why_doubtful(band, prob, decision["needs_review"], shown, decision["prob"], threshold, fallback), coarse)


def fine_candidate(prediction: dict) -> tuple[str | None, float]:
    """(The model's fine candidate, its probability) of a predict row: what a task proposes, as in
    pool routing; None when that class's label was deleted since the version trained."""
    if "fine_label" in prediction:
        return prediction["fine_label"], float(prediction.get("fine_prob") or 0.0)
    return prediction.get("label"), float(prediction.get("prob") or 0.0)


def judge_prediction(rule: TrainedClassifier, labels: selectors.ModelLabels, band: tuple[float, float],
                     prediction: dict) -> Judgement:
    """A predict row (``predict_texts``: ``decide``, labels by their names now) by the pool's rule,
    its emitted label held to the threshold ``decide`` compared with (none for a deleted label)."""
    name, prob = fine_candidate(prediction)
    emitted, fallback = prediction.get("label"), bool(prediction.get("fallback"))
    emitted_prob = float(prediction.get("prob") or 0.0)
    learned = next((old for old, (_, now) in labels.known.items() if now is not None and now == emitted), None)
    threshold = (rule.coarse_thresholds if fallback else rule.thresholds).get(learned, 0.0)
    coarse = {"label": emitted, "prob": round(emitted_prob, 4), "threshold": threshold} if fallback else None
    return Judgement(labels.column_named(name), prob, why_doubtful(band, prob, emitted is not None and emitted_prob < threshold,
                                                           emitted, emitted_prob, threshold, fallback), coarse)


def why_doubtful(band: tuple[float, float], prob: float, review: bool, emitted: str | None, emitted_prob: float,
         threshold: float, fallback: bool) -> str:
    why = [f"top probability {prob:.2f} inside the band {band[0]:.2f}–{band[1]:.2f}"] if band[0] <= prob <= band[1] else []
    if review:
        why.append(f"the model falls back to the coarse label {emitted!r} at {emitted_prob:.2f}, below its threshold "
                   f"{threshold:.2f}" if fallback else f"below the threshold {threshold:.2f} of {emitted!r}")
    return "; ".join(why)


def task_detail(version: ModelVersion, band: tuple[float, float], labels: selectors.ModelLabels,
            judgement: Judgement) -> dict:
    """A low-confidence task's detail: the proposed label by its id (what accept stores and the
    queue groups by, whatever it is named later) and its name when routed."""
    column = judgement.column
    detail = {"model_version": version.number, "predicted": labels.names[column] if column is not None else None,
              "predicted_label_id": labels.ids[column] if column is not None else None,
              "prob": round(judgement.prob, 4),
              "threshold": to_jsonable((version.thresholds or {}).get(labels.trained[column])) if column is not None
              else None, "band": [band[0], band[1]], "why": judgement.why}
    return {**detail, "coarse_fallback": to_jsonable(judgement.fallback)} if judgement.fallback else detail
