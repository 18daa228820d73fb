"""The lead pages' door to the active-learning loop, which other apps own (learner.services,
labeling.waves.services / selectors, labeling.annotations.selectors). It re-exports what the pages
call and adds the few page-level views of it: the wave a lead works on (open, else the newest
planned one), opening a planned wave only when none is open, progress and budget shaped for the
templates, and dashboard panels that fail soft."""
import logging

from labeling.annotations import selectors as annotation_selectors
from labeling.waves import selectors as wave_selectors
from labeling.waves.models import Wave
from labeling.waves.services import close_wave, open_wave, plan_next_wave
from learner.services import (
    active_model,
    predict_texts,
    request_retrain,
)

__all__ = [
    "active_model", "agreement_summary", "annotator_throughput", "budget_status",
    "close_wave", "composition_rows", "current_wave", "open_wave", "open_wave_if_idle", "plan_next_wave",
    "predict_texts", "request_retrain", "wave_composition", "wave_progress",
]

log = logging.getLogger(__name__)
wave_composition = wave_selectors.wave_composition


def current_wave(project):
    """The open wave; else the newest planned one (waiting to be opened); else None."""
    return wave_selectors.current_wave(project) or (
        Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first())


def open_wave_if_idle(project, wave) -> bool:
    """Open a freshly planned wave when no other wave is open. True when it was opened."""
    if Wave.objects.filter(project=project, state=Wave.OPEN).exclude(pk=wave.pk).exists():
        return False
    open_wave(wave)
    return True


def composition_rows(wave) -> list[dict]:
    """source × strategy × predicted label counts of the wave's picks, "—" for a missing name."""
    return [{**cell, "source": cell["source"] or "—", "predicted_label": cell["predicted_label"] or "—"}
            for cell in wave_composition(wave)["cells"]]


def wave_progress(wave) -> dict:
    """Picks, picks with all the answers they need (skips count), and the share done."""
    raw = wave_selectors.wave_progress(wave)
    total, done = raw["items"], raw["complete_items"]
    return {"total": total, "done": done, "share": (done / total) if total else 0.0}


def budget_status(project) -> dict | None:
    """{budget, used, left, spent}, or None when the project has no label budget."""
    return None if project.label_budget is None else wave_selectors.budget_status(project)


def _optional_panel(func, project):
    """A dashboard panel computed by another app: a failure there blanks that panel (and is
    logged) instead of taking the whole dashboard down."""
    try:
        return func(project)
    except Exception:  # noqa: BLE001 - one panel must not break the page
        log.exception("%s failed for project %s", func.__qualname__, project.slug)
        return None


def agreement_summary(project) -> dict | None:
    return _optional_panel(annotation_selectors.agreement_summary, project)


def annotator_throughput(project) -> list[dict] | None:
    return _optional_panel(annotation_selectors.annotator_throughput, project)
