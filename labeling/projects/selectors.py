"""Reads for the project and lead pages (the dashboard has its own module, dashboard.py)."""
from labeling.items.models import Item
from labeling.waves.models import Wave
from learner.models import ModelVersion, TaskRun

from . import loop
from .models import Membership, Project
from .permissions import can_manage, role_in
from .rules import compile_rule

PREVIEW_CHUNK = 2000


def preview_rule(project: Project, kind: str, pattern: str, *, examples: int = 5) -> dict:
    """How many pool items a rule would match, streamed over the pool (never all texts in memory).
    ValueError (from compile_rule) names what is wrong with the pattern."""
    matcher = compile_rule(kind, pattern)
    scanned = matched = 0
    sample = []
    texts = Item.objects.filter(project=project).order_by().values_list("id", "text")
    for item_id, text in texts.iterator(chunk_size=PREVIEW_CHUNK):
        scanned += 1
        if matcher.search(text):
            matched += 1
            if len(sample) < examples:
                sample.append({"id": item_id, "text": text[:300]})
    return {"kind": kind, "pattern": pattern, "scanned": scanned, "matches": matched,
            "share": (matched / scanned) if scanned else 0.0, "examples": sample}


def task_runs(project: Project, *, limit: int = 20) -> list[dict]:
    return [task_run_dict(t) for t in TaskRun.objects.filter(project=project).order_by("-created_at")[:limit]]


def task_run_dict(task: TaskRun) -> dict:
    return {"id": task.pk, "kind": task.kind, "state": task.state, "progress": task.progress,
            "message": task.message, "detail": getattr(task, "detail", {}), "created_at": task.created_at.isoformat(),
            "finished_at": task.finished_at.isoformat() if task.finished_at else None}


def wave_dict(wave: Wave, *, with_progress: bool = True) -> dict:
    data = {"number": wave.number, "state": wave.state, "size": wave.size, "cold_start": wave.cold_start,
            "created_at": wave.created_at.isoformat(),
            "closed_at": wave.closed_at.isoformat() if wave.closed_at else None,
            "model_version": wave.model_version.number if wave.model_version_id else None}
    if with_progress:
        data["progress"] = loop.wave_progress(wave)
    return data


def model_version_dict(version: ModelVersion) -> dict:
    return {"number": version.number, "state": version.state, "created_at": version.created_at.isoformat(),
            "finished_at": version.finished_at.isoformat() if version.finished_at else None,
            "train_size": version.train_size, "temperature": version.temperature,
            "thresholds": version.thresholds, "label_map": version.label_map, "metrics": version.metrics,
            "error": version.error}


def project_overview(project: Project, user) -> dict:
    """What the overview page shows: the current wave's progress and the label budget."""
    wave = loop.current_wave(project)
    return {
        "project": project,
        "role": role_in(user, project),
        "can_manage": can_manage(user, project),
        "wave": wave_dict(wave) if wave else None,
        "waves_total": Wave.objects.filter(project=project).count(),
        "budget": loop.budget_status(project),
        "items_total": Item.objects.filter(project=project).count(),
        "active_model": loop.active_model(project),
        "labels": list(project.labels.select_related("parent")),
    }


def members(project: Project):
    return Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")
