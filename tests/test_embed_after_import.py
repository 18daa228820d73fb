"""Embedding after an import runs in chunked background tasks (LONGTAIL_EMBED_CHUNK items each, on
the embed queue) with progress on a TaskRun, never inside a web request: planning by hand while
items wait says so and plans once they are embedded. In eager mode (no broker) planning embeds
in-process, and a requested embedding runs its chunks inline."""
import math
import time

import pytest

from tests.service_processes import fresh_broker, require_postgres, require_redis, run_to_done_with_worker

TEXTS = [f"my card was charged twice {w}" for w in ("amber", "birch", "cedar", "delta", "ember")] + [
    f"cannot log in since {w}" for w in ("fjord", "grove", "harbor", "iris", "juniper")]


@pytest.fixture
def eager(settings):
    """Tasks in-process, as in the demo (also where CI sets a broker for the rest of the suite)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.task_always_eager = before


def _write_csv(tmp_path):
    path = tmp_path / "tickets.csv"
    rows = ["text,source"] + [f"{t},{'email' if i % 2 else 'chat'}" for i, t in enumerate(TEXTS)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_eager_mode_plans_with_inline_embedding(eager, project_factory, tmp_path, django_capture_on_commit_callbacks):
    from labeling.items.services import import_path
    from labeling.loop.triggers import planning_blocker
    from labeling.modeling import embedding
    from labeling.modeling.models import TaskRun
    from labeling.waves import services as waves

    project = project_factory("eager")
    with django_capture_on_commit_callbacks(execute=True):
        assert import_path(project, _write_csv(tmp_path)).rows_imported == 10
    assert not TaskRun.objects.filter(project=project, kind="embed").exists()  # nothing queued without a broker
    assert planning_blocker(project) is None
    wave = waves.plan_next_wave(project)
    assert wave.size >= 1 and embedding.unembedded_item_ids(project) == []


def test_requested_embedding_runs_in_chunks_inline_in_eager_mode(eager, project_factory, tmp_path, settings,
                                                                 django_capture_on_commit_callbacks):
    from labeling.items.services import import_path
    from labeling.loop.triggers import request_embedding
    from labeling.modeling import embedding
    from labeling.modeling.models import TaskRun

    settings.LONGTAIL_EMBED_CHUNK = 3
    project = project_factory("chunks")
    with django_capture_on_commit_callbacks(execute=True):
        import_path(project, _write_csv(tmp_path))
    with django_capture_on_commit_callbacks(execute=True):
        run = request_embedding(project)
    run.refresh_from_db()
    assert run.state == TaskRun.DONE, run.message
    assert run.detail["to_embed"] == 10 and run.detail["chunks"] == math.ceil(10 / 3)
    assert run.progress == pytest.approx(1.0) and "Embedded 10 items" in run.message
    assert embedding.unembedded_item_ids(project) == []


@pytest.mark.worker
def test_import_queues_chunked_embedding_and_planning_waits(transactional_db, project_factory, tmp_path, settings):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.items.services import import_path
    from labeling.loop.triggers import planning_blocker
    from labeling.modeling import embedding
    from labeling.modeling.models import TaskRun
    from labeling.waves.models import Wave

    settings.LONGTAIL_PLAN_EMBED_INLINE_MAX = 5  # fewer than the 10 imported: planning must wait
    project = project_factory("queued")
    import_path(project, _write_csv(tmp_path))  # commits; items_imported queues the embedding
    run = TaskRun.objects.get(project=project, kind="embed")
    assert run.state == TaskRun.PENDING
    # No worker yet: the plan request does not embed, it says why and asks to plan afterwards.
    t = time.perf_counter()
    why = planning_blocker(project)
    assert time.perf_counter() - t < 2.0
    assert why.startswith("10 items are still being embedded") and f"task {run.pk}" in why
    assert "planning starts when they are done" in why
    assert len(embedding.unembedded_item_ids(project)) == 10 and not Wave.objects.filter(project=project).exists()

    log_path = tmp_path / "worker.log"
    run_to_done_with_worker(run, log_path, LONGTAIL_EMBED_CHUNK=4)
    assert run.detail["chunks"] == 3 and run.progress == pytest.approx(1.0), run.detail
    log = log_path.read_text()
    assert log.count("labeling.loop.tasks.embed_items") >= 3
    assert embedding.unembedded_item_ids(project) == []
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    assert wave.size >= 1 and f"Wave {wave.number} planned and opened" in run.message
