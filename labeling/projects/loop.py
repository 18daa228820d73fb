"""The lead pages' door to the active-learning loop (learner.services, labeling.waves.services and
selectors, labeling.annotations.selectors), which other apps own. Imports are lazy so the pages
keep working — with a clear "not available" state — where a piece of the loop is not installed."""
import importlib
import logging

from django.db.models import Count, F, Q

log = logging.getLogger(__name__)


class LoopUnavailable(RuntimeError):
    """The loop function the page needs is not provided by this installation."""


def _function(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _call(module: str, name: str, *args, **kwargs):
    func = _function(module, name)
    if func is None:
        raise LoopUnavailable(f"{module}.{name} is not available in this installation.")
    return func(*args, **kwargs)


# --- buttons -----------------------------------------------------------------------------------
def request_retrain(project, *, reason="manual"):
    return _call("learner.services", "request_retrain", project, reason=reason)


def plan_next_wave(project):
    return _call("labeling.waves.services", "plan_next_wave", project)


def open_wave(wave):
    return _call("labeling.waves.services", "open_wave", wave)


def close_wave(wave):
    return _call("labeling.waves.services", "close_wave", wave)


def predict_texts(project, texts):
    return _call("learner.services", "predict_texts", project, texts)


def class_probabilities(project, texts) -> list[dict] | None:
    """Per text {label: calibrated probability} under the active model (the texts' vectors are
    already cached by predict_texts, so nothing is encoded twice). None where unavailable."""
    embed = _function("learner.services", "embed_query_texts")
    load = _function("learner.services", "load_classifier")
    model = active_model(project)
    if embed is None or load is None or model is None:
        return None
    classifier = load(model)
    proba = classifier.predict_proba(embed(list(texts)))
    names = [str(c) for c in classifier.classes_]
    return [{name: round(float(p), 4) for name, p in zip(names, row, strict=True)} for row in proba]


# --- reads (with local fallbacks computed from the models) --------------------------------------
def active_model(project):
    func = _function("learner.services", "active_model")
    if func is not None:
        return func(project)
    from learner.models import ModelVersion

    return ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).first()


def current_wave(project):
    """The open wave; else the newest planned one (waiting to be opened); else None."""
    from labeling.waves.models import Wave

    func = _function("labeling.waves.selectors", "current_wave") or _function(
        "labeling.waves.services", "current_wave")
    wave = func(project) if func is not None else None
    if wave is None:
        wave = (Wave.objects.filter(project=project, state__in=[Wave.OPEN, Wave.PLANNED])
                .order_by("state", "-number").first())  # "open" sorts before "planned"
    return wave


def open_wave_if_idle(project, wave) -> bool:
    """Open a freshly planned wave when no other wave is open. True when it was opened."""
    from labeling.waves.models import Wave

    if Wave.objects.filter(project=project, state=Wave.OPEN).exclude(pk=wave.pk).exists():
        return False
    open_wave(wave)
    return True


def wave_composition(wave) -> dict:
    func = _function("labeling.waves.selectors", "wave_composition") or _function(
        "labeling.waves.services", "wave_composition")
    if func is not None:
        return func(wave)
    return {"rows": composition_rows(wave)}


def composition_rows(wave) -> list[dict]:
    """source × strategy × predicted label counts, straight from the wave's picks."""
    rows = (wave.picks.values("item__source__name", "strategy", "predicted_label__name")
            .annotate(n=Count("id")).order_by("item__source__name", "strategy", "predicted_label__name"))
    return [{"source": r["item__source__name"] or "—", "strategy": r["strategy"],
             "predicted_label": r["predicted_label__name"] or "—", "count": r["n"]} for r in rows]


def wave_progress(wave) -> dict:
    """Picks, picks with all the answers they need (non-undone answers on the item, skips
    included — the loop's own completion rule), and the share done."""
    func = _function("labeling.waves.selectors", "wave_progress")
    if func is not None:
        raw = func(wave)
        total, done = raw.get("items", 0), raw.get("complete_items", 0)
    else:
        picks = wave.picks.annotate(
            answers=Count("item__annotations", filter=Q(item__annotations__undone=False), distinct=True))
        total = picks.count()
        done = picks.filter(answers__gte=F("overlap")).count()
    return {"total": total, "done": done, "share": (done / total) if total else 0.0}


def budget_status(project) -> dict | None:
    """{budget, used, left, spent}, or None when the project has no label budget."""
    if project.label_budget is None:
        return None
    func = _function("labeling.waves.selectors", "budget_status")
    if func is not None:
        return func(project)
    if project.label_budget is None:
        return None
    from labeling.annotations.models import Annotation

    used = (Annotation.objects.filter(project=project, undone=False, skipped=False)
            .values("item").distinct().count())
    left = max(project.label_budget - used, 0)
    return {"budget": project.label_budget, "used": used, "left": left, "spent": left == 0}


def _optional_panel(module: str, name: str, project):
    """A dashboard panel computed by another app: a failure there blanks that panel (and is
    logged) instead of taking the whole dashboard down."""
    func = _function(module, name)
    if func is None:
        return None
    try:
        return func(project)
    except Exception:  # noqa: BLE001 - one panel must not break the page
        log.exception("%s.%s failed for project %s", module, name, project.slug)
        return None


def agreement_summary(project) -> dict | None:
    return _optional_panel("labeling.annotations.selectors", "agreement_summary", project)


def annotator_throughput(project) -> list[dict] | None:
    return _optional_panel("labeling.annotations.selectors", "annotator_throughput", project)
