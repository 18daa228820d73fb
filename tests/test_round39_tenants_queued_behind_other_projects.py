"""Several projects share the train queue: one project's "Train final model" waits there while
other projects' fine-tunes (each up to the soft time limit) run first. The workers' sweep asks the
broker, finds the message still queued, and must not fail the run as "never started": nothing
sends it again (a final model is not re-queued) and, when the worker reaches the message, it runs
nothing for a failed run. Real Redis broker, PostgreSQL; no worker takes the train queue (it is busy
with the other projects)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.service_processes import fresh_broker, require_redis
from tests.test_loop_helpers import build_project

STALE, VISIBILITY = 60, 600


@pytest.fixture
def broker(settings):
    require_redis()
    fresh_broker()
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = VISIBILITY
    yield
    fresh_broker()


def test_a_final_model_queued_behind_other_projects_fine_tunes_is_not_failed(broker, db, project_factory,
                                                                              django_capture_on_commit_callbacks):
    from labeling.loop.broker import look
    from labeling.loop.runs import FINAL_MODEL
    from labeling.loop.triggers import recover_stale_runs, request_final_model
    from labeling.modeling.models import TaskRun

    busy, _ = build_project(project_factory, slug="acme", n_items=30, n_labeled=12)
    # acme's fine-tune holds the train worker, beating its heartbeat (and another project's waits after it)
    TaskRun.objects.create(project=busy, kind=FINAL_MODEL, state=TaskRun.RUNNING, message="Fine-tuning the encoder.",
                           detail={"stage": "train"})
    project, _ = build_project(project_factory, slug="initech", n_items=30, n_labeled=12, seed=3)
    with django_capture_on_commit_callbacks(execute=True):
        run = request_final_model(project)
    run.refresh_from_db()
    task_id = run.detail["task_id"]
    # 42 minutes in the queue: two other projects' fine-tunes ran before it
    TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=STALE + VISIBILITY + 60))
    assert task_id in look(sent=[task_id])[1]  # the broker still holds its message, queued

    recover_stale_runs()  # the workers' periodic sweep

    run.refresh_from_db()
    assert run.state == TaskRun.PENDING, (
        f"initech's final model, whose message is still queued behind other projects' work, was {run.state}: "
        f"{run.message}")
