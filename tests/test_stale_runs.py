"""The stale-run rule (labeling.loop.runs / triggers.recover_stale_runs): a running run whose
heartbeat is older than LONGTAIL_TASK_STALE_SECONDS is failed with the training version it left and
queued again, at most LONGTAIL_TASK_MAX_REQUEUES times; a pending run is given up only after the
broker's visibility timeout too; a live run's heartbeat thread keeps it fresh; a plan request
recovers first and then says a retrain is under way."""
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.test_loop_helpers import build_project


@pytest.fixture
def project(project_factory, settings):
    settings.LONGTAIL_TASK_STALE_SECONDS = 60
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = 600
    settings.LONGTAIL_TASK_MAX_REQUEUES = 2
    return build_project(project_factory, slug="stale", n_items=60, n_labeled=20)[0]


def _run(project, *, state, age_s, **detail):
    from labeling.modeling.models import TaskRun

    run = TaskRun.objects.create(project=project, kind="retrain", state=state, detail={"stage": "train", **detail})
    TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=age_s))
    return run


def test_a_stale_running_run_is_failed_and_queued_again(project, django_capture_on_commit_callbacks):
    from labeling.loop.triggers import recover_stale_runs
    from labeling.modeling.models import ModelVersion, TaskRun

    dead = _run(project, state=TaskRun.RUNNING, age_s=61, reason="wave_complete")
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.TRAINING,
                                          config={"task_run": dead.pk})
    with django_capture_on_commit_callbacks(execute=False):  # queue nothing: the rule is under test
        (again,) = recover_stale_runs(project)
    dead.refresh_from_db()
    version.refresh_from_db()
    assert dead.state == TaskRun.FAILED and dead.message.startswith("Interrupted: no heartbeat for 6")
    assert f"Queued again as task {again.pk}" in dead.message and dead.detail["interrupted"] is True
    assert version.state == ModelVersion.FAILED and "Interrupted" in version.error
    assert again.state == TaskRun.PENDING and again.detail["requeued_from"] == dead.pk
    assert again.detail["attempt"] == 2 and again.detail["reason"] == "wave_complete"
    assert recover_stale_runs(project) == []  # the new run is fresh


def test_live_pending_and_exhausted_runs(project, django_capture_on_commit_callbacks):
    from labeling.loop.triggers import recover_stale_runs
    from labeling.modeling.models import TaskRun

    fresh = _run(project, state=TaskRun.RUNNING, age_s=30)
    assert recover_stale_runs(project) == [] and TaskRun.objects.get(pk=fresh.pk).state == TaskRun.RUNNING
    TaskRun.objects.filter(pk=fresh.pk).delete()
    # Pending: its message may still come back from a dead worker until the visibility timeout.
    waiting = _run(project, state=TaskRun.PENDING, age_s=300)
    assert recover_stale_runs(project) == [] and TaskRun.objects.get(pk=waiting.pk).state == TaskRun.PENDING
    TaskRun.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(seconds=661))
    with django_capture_on_commit_callbacks(execute=False):
        assert len(recover_stale_runs(project)) == 1
    TaskRun.objects.filter(project=project).delete()
    # Interrupted for the third time: left failed.
    third = _run(project, state=TaskRun.RUNNING, age_s=61, attempt=3)
    with django_capture_on_commit_callbacks(execute=False):
        assert recover_stale_runs(project) == []
    assert TaskRun.objects.get(pk=third.pk).state == TaskRun.FAILED
    assert not TaskRun.objects.filter(project=project, state=TaskRun.PENDING).exists()


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_keeps_a_long_step_fresh(project_factory, settings):
    from labeling.loop.runs import heartbeat
    from labeling.modeling.models import TaskRun

    settings.LONGTAIL_TASK_HEARTBEAT_SECONDS = 0.2
    project = project_factory("beat")
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING)
    TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    with heartbeat(run.pk):
        time.sleep(1.0)  # a long step (training) that reports nothing itself
    run.refresh_from_db()
    assert timezone.now() - run.updated_at < timedelta(seconds=5)


def test_a_plan_request_recovers_then_waits_for_the_retrain(project, client, make_user, settings,
                                                            django_capture_on_commit_callbacks):
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Membership

    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    dead = _run(project, state=TaskRun.RUNNING, age_s=61)
    with django_capture_on_commit_callbacks(execute=False):  # the re-queued run stays pending
        page = client.post("/p/stale/waves/plan/", follow=True)
    assert TaskRun.objects.get(pk=dead.pk).state == TaskRun.FAILED
    again = TaskRun.objects.get(project=project, detail__requeued_from=dead.pk)
    assert f"A retrain is under way (task {again.pk}" in page.content.decode()


def test_a_requeue_the_broker_refused_is_sent_once_it_answers(project, django_capture_on_commit_callbacks):
    """The sweep queued an interrupted retrain again while Redis was down: that run failed at once
    ("could not queue the work") and nothing tried again. Once the broker answers, the next sweep
    sends it, once."""
    from tests.service_processes import require_redis

    require_redis()
    from labeling.loop.triggers import recover_stale_runs
    from labeling.modeling.models import TaskRun

    dead = _run(project, state=TaskRun.FAILED, age_s=90, attempt=1)
    unsent = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.FAILED,
                                    message="Could not queue the work (is the broker up?): OperationalError",
                                    detail={"reason": "wave_complete", "queue_error": True, "requeued_from": dead.pk,
                                            "attempt": 2})
    with django_capture_on_commit_callbacks(execute=False):  # what is sent is not under test
        assert recover_stale_runs(project) == []  # a web request's sweep does not wait on the broker
        (again,) = recover_stale_runs()  # the workers' periodic sweep
        assert recover_stale_runs() == []  # sent once
    unsent.refresh_from_db()
    assert again.state == TaskRun.PENDING and again.detail["requeued_from"] == dead.pk
    assert again.detail["attempt"] == 2 and again.detail["reason"] == "wave_complete"
    assert unsent.detail["sent_again_as"] == again.pk and f"Sent again as task {again.pk}" in unsent.message
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 3
