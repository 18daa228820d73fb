"""Shared builders for the retention tests (test_retention_*): a project retrained several times
through the real pipeline (eager Celery, pre-filled embeddings), each head written to a file under
the test's own LONGTAIL_ARTIFACT_DIR as a large production head is. Holds no tests itself."""
from __future__ import annotations

from pathlib import Path

from tests import test_loop_helpers as helpers


def retrained(project_factory, capture, settings, monkeypatch, tmp_path: Path, *, versions: int, slug="kept",
              n_items=160):
    """A project with ``versions`` model versions from as many real retrains (the last one active),
    every head in a file; each retrain's wave is closed before the next, as a finished wave is."""
    from labeling.modeling import versions as modeling_versions
    from labeling.modeling.models import TaskRun

    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    monkeypatch.setattr(modeling_versions, "ARTIFACT_DB_MAX_BYTES", 0)  # every head goes to a file
    project, _ = helpers.build_project(project_factory, slug=slug, n_items=n_items, n_labeled=40)
    for _ in range(versions):
        retrain_once(project, capture)
    assert project.model_versions.count() == versions
    assert not TaskRun.objects.filter(project=project, state__in=[TaskRun.PENDING, TaskRun.RUNNING]).exists()
    return project


def retrain_once(project, capture):
    from labeling.modeling.models import TaskRun
    from labeling.waves.models import Wave

    run = helpers.retrain(project, capture)
    assert run.state == TaskRun.DONE, run.message
    Wave.objects.filter(project=project, state=Wave.OPEN).update(state=Wave.CLOSED)


def score_counts(project) -> dict[int, int]:
    """Version number → its stored score rows."""
    from django.db.models import Count

    from labeling.modeling.models import ModelVersion

    return dict(ModelVersion.objects.filter(project=project).annotate(n=Count("scores")).values_list("number", "n"))


def picked_items(project) -> set[int]:
    from labeling.waves.models import WaveItem

    return set(WaveItem.objects.filter(wave__project=project).values_list("item_id", flat=True))


def tree_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
