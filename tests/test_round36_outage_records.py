"""The record of how a piece of work ended, written while the database does not answer: tried again
for a bounded time (config.database_retry), not lost. This process's own connection is routed
through a proxy (tests/db_outage.py) that the test cuts; the shared server runs on.

Before, a task that failed during an outage (a transient error past its retries) tried once to fail
its run, met the same outage, and gave up: the run read "running" until the stale sweep failed it
minutes later as "its worker stopped"."""
import threading
import time

import pytest
from django.db import OperationalError, connection

from config.database_retry import until_database_answers
from labeling.loop import tasks
from labeling.modeling.models import TaskRun
from tests.db_outage import OutageProxy
from tests.service_processes import require_postgres

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cut_connection():
    """A proxy in front of PostgreSQL that this process's connection goes through from here on."""
    require_postgres()
    port = connection.settings_dict["PORT"]
    proxy = OutageProxy(int(port or 5432))
    connection.close()
    connection.settings_dict["PORT"] = str(proxy.port)
    try:
        yield proxy
    finally:
        if proxy.is_cut:
            proxy.restore()
        connection.close()
        connection.settings_dict["PORT"] = port
        proxy.close()


def test_a_failure_during_an_outage_is_recorded_once_the_database_is_back(cut_connection, project_factory):
    project = project_factory("records")
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, message="Training.")
    cut_connection.cut()
    threading.Timer(3, cut_connection.restore).start()
    started = time.monotonic()
    # What the worker calls when a step failed for good (here: its database errors past the retries).
    tasks.train_model.on_failure(OperationalError("server closed the connection unexpectedly"), "task-id",
                                 (run.pk,), {}, None)
    assert 3 <= time.monotonic() - started < 15
    run.refresh_from_db()
    assert run.state == TaskRun.FAILED, run.message
    assert run.message == "train_model failed: OperationalError: server closed the connection unexpectedly"
    assert run.finished_at is not None


def test_the_record_is_tried_again_for_a_bounded_time_only(cut_connection, project_factory):
    project = project_factory("bounded")
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING)
    cut_connection.cut()
    started = time.monotonic()
    with pytest.raises(OperationalError):
        until_database_answers(lambda: TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.FAILED),
                               what="a bounded record", within=2)
    assert 1.4 <= time.monotonic() - started < 4  # 0.5 + 1 s between the three tries, then no more
    cut_connection.restore()
    connection.close()
    assert TaskRun.objects.get(pk=run.pk).state == TaskRun.RUNNING
