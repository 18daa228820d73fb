"""The stale-run rule between a run's steps (labeling.loop.runs.expire_stale_runs, broker.look),
against the real Redis broker with no worker: a retrain whose next step waits in the broker (its
embedding chunks queued behind other work, or its next task held by a busy worker that has not
started it) has no heartbeat, yet is waiting, not dead; once that step started and went quiet, it
is failed at the cut-off as before. A retrain failed while its version was ``ready`` (scoring)
fails that version too. A final model still queued is returned by a second "Train final model",
not failed.

Changed in round 39, deliberately: these tests asserted that a run whose next step (or first
message) still waits in a queue is given up by its age alone once it has waited the cut-off plus
the visibility timeout. That rule's premise, that a message comes back within the visibility
timeout, holds for a message held by a worker that died, not for one still waiting in a queue
behind other projects' fine-tunes or for workers that were down: the run was failed (and queued
again at the back, or, a final model, dropped) with its message still queued. Now such a run waits
while the sweep finds its message in the broker, a web request leaves it to the sweep, and the
age rule applies only where the broker cannot be asked (labeling.loop.stale_rule).
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.service_processes import free_port, fresh_broker, require_redis
from tests.test_loop_helpers import build_project

STALE, VISIBILITY = 60, 600


@pytest.fixture
def broker(settings):
    require_redis()
    fresh_broker()
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = VISIBILITY
    yield
    fresh_broker()  # the messages left queued here must not reach a later test's worker


def _age(run, seconds):
    from labeling.modeling.models import TaskRun

    TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def _started_retrain(project):
    """A retrain whose first step ran here (as a worker runs it): its next step is in the broker."""
    from labeling.loop.tasks import run_retrain
    from labeling.modeling.models import TaskRun

    run = TaskRun.objects.create(project=project, kind="retrain", message="Queued.", detail={"stage": "queued"})
    run_retrain(run.pk)
    run.refresh_from_db()
    assert run.state == TaskRun.RUNNING
    return run


def test_a_retrain_whose_embedding_chunks_wait_behind_other_work_is_not_stale(broker, db, project_factory, settings):
    from labeling.items.models import Item
    from labeling.loop.runs import expire_stale_runs
    from labeling.modeling.models import TaskRun
    from learner.text import text_hash

    project, _ = build_project(project_factory, slug="chunks-queued", n_items=40, n_labeled=12)
    texts = [f"a new ticket {i} nobody has embedded yet" for i in range(3)]
    Item.objects.bulk_create([Item(project=project, text=t, text_hash=text_hash(t)) for t in texts])
    run = _started_retrain(project)  # its embedding chunks are on the embed queue; no worker takes them
    _age(run, STALE + 1)
    assert expire_stale_runs(project) == []  # a web request: it cannot tell, so it waits
    assert expire_stale_runs(ask_broker=True) == []  # the sweep finds the chunks queued
    assert TaskRun.objects.get(pk=run.pk).state == TaskRun.RUNNING
    _age(run, STALE + VISIBILITY + 1)  # past the cut-off plus the visibility timeout, its chunks still queued
    assert expire_stale_runs(project) == []  # a web request leaves it to the sweep
    assert expire_stale_runs(ask_broker=True) == []  # the sweep still finds them queued: waiting, not lost
    assert TaskRun.objects.get(pk=run.pk).state == TaskRun.RUNNING
    # Where the broker cannot be asked (Redis unreachable from the sweep), the age rule applies.
    real_broker, settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL, f"redis://127.0.0.1:{free_port()}/0"
    try:
        assert [r.pk for r in expire_stale_runs(ask_broker=True)] == [run.pk]
    finally:
        settings.CELERY_BROKER_URL = real_broker
    run.refresh_from_db()
    # (the unreachable broker's connection attempt may take a second)
    assert run.state == TaskRun.FAILED and run.message.startswith("Interrupted: no progress for 66"), run.message
    assert "waits for a worker" in run.message and "LONGTAIL_BROKER_VISIBILITY_TIMEOUT" in run.message


def test_a_step_held_by_a_busy_worker_waits_until_it_starts_then_must_beat(broker, db, project_factory):
    from celery import current_app

    from labeling.loop.executions import claimed
    from labeling.loop.runs import expire_stale_runs
    from labeling.loop.tasks import train_model
    from labeling.modeling.models import TaskRun

    project, _ = build_project(project_factory, slug="held", n_items=40, n_labeled=12)
    run = _started_retrain(project)  # every item embedded: train_model is sent to the train queue
    with current_app.connection_for_read() as connection:
        queue = connection.SimpleQueue("train")
        message = queue.get(timeout=5)  # handed to a worker that is busy with other work: not started
        assert message.headers["task"] == train_model.name
        _age(run, STALE + 1)
        assert expire_stale_runs(ask_broker=True) == []
        assert TaskRun.objects.get(pk=run.pk).state == TaskRun.RUNNING
        # It starts (its claim is counted, as each execution does), then its worker dies: no heartbeat.
        train_model.push_request(id=message.headers["id"], retries=0, is_eager=False)
        try:
            with claimed(train_model, [run.pk], {}) as mine:
                assert mine
        finally:
            train_model.pop_request()
        _age(run, STALE + 1)
        assert [r.pk for r in expire_stale_runs(ask_broker=True)] == [run.pk]
        queue.close()
    run.refresh_from_db()
    assert run.state == TaskRun.FAILED, run.message
    assert run.message.startswith(f"Interrupted: no heartbeat for {STALE + 1} s, and no step of it is queued"), \
        run.message


def test_a_retrain_interrupted_while_scoring_fails_its_ready_version(db, project_factory, settings):
    """Its late steps find the run failed and never activate the version: left ``ready``, it stayed
    so for ever, beside the active one. A final model's ready version (kept for export) stays."""
    from labeling.loop.runs import expire_stale_runs
    from labeling.modeling.models import ModelVersion, TaskRun

    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    project, _ = build_project(project_factory, slug="scoring", n_items=40, n_labeled=12)
    final_run = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.FAILED, message="x")
    kept = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.READY,
                                       config={"task_run": final_run.pk, "kind": "final"})
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={"stage": "score"})
    version = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY,
                                          config={"task_run": run.pk})
    _age(run, STALE + 1)
    assert [r.pk for r in expire_stale_runs(project)] == [run.pk]
    version.refresh_from_db()
    kept.refresh_from_db()
    assert version.state == ModelVersion.FAILED, version.state
    assert version.error == f"Not activated: its retrain (task {run.pk}) was interrupted before the pool was scored under it."
    assert kept.state == ModelVersion.READY


def test_a_second_click_returns_the_final_model_still_queued(db, project_factory, django_capture_on_commit_callbacks,
                                                             settings):
    """Queued 6 minutes ago behind another project's fine-tune: not failed (and sent to the back of
    the queue as a new run) by the click. Nor 45 minutes ago: a click cannot read the queues, and
    leaves a run whose message id is recorded to the workers' sweep, which asks the broker. Only a
    run with no message to ask about is given up by its age."""
    from labeling.loop.runs import FINAL_MODEL, record_task_id
    from labeling.loop.triggers import request_final_model
    from labeling.modeling.models import TaskRun

    settings.LONGTAIL_TASK_STALE_SECONDS = 300
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = 2220
    assert settings.CELERY_BROKER_URL.startswith("redis://")  # a broker the sweep can ask; nothing is sent here
    project, _ = build_project(project_factory, slug="final-queued", n_items=30, n_labeled=12)
    queued = TaskRun.objects.create(project=project, kind=FINAL_MODEL, message="Queued.", detail={"stage": "queued"})
    record_task_id(queued.pk, "a-final-model-message")
    for age in (360, 300 + 2220 + 1):
        _age(queued, age)
        with django_capture_on_commit_callbacks(execute=False) as sent:
            again = request_final_model(project)
        queued.refresh_from_db()
        assert again.pk == queued.pk and queued.state == TaskRun.PENDING, (age, queued.state, queued.message)
        assert sent == [] and TaskRun.objects.filter(project=project, kind=FINAL_MODEL).count() == 1
    TaskRun.objects.filter(pk=queued.pk).update(detail={"stage": "queued"})  # no message id to ask about
    _age(queued, 300 + 2220 + 1)  # past the pending cut-off it is given up and a new one is queued
    with django_capture_on_commit_callbacks(execute=False):
        newer = request_final_model(project)
    queued.refresh_from_db()
    assert newer.pk != queued.pk and queued.state == TaskRun.FAILED and "never started" in queued.message
