"""Round 38 (loopfix): the stale-import rule asks the broker about a pending upload's message
(labeling.loop.sweep_imports), against the real Redis broker with no worker.

Before, a batch whose message Redis lost stayed pending until the cut-off plus the visibility
timeout (2,520 s by default; tests/test_round38_redisloss_import_lost.py shows it with a real
worker), and the message it was then failed with named the stale cut-off (15 s there) although it
had waited the visibility timeout too. Here: a message still queued, or handed to a busy worker
that has not started it, keeps its batch pending; a broker that cannot be asked keeps it pending;
a web request never reads the queues; a message the broker no longer holds fails it as lost once
the cut-off has passed; the long rule's message names the wait it applied.
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.service_processes import free_port, fresh_broker, require_redis

STALE, VISIBILITY = 60, 600


@pytest.fixture
def broker(settings, tmp_path):
    require_redis()
    fresh_broker()
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = VISIBILITY
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield
    fresh_broker()  # the import message left queued here must not reach a later test's worker


def _age(batch, seconds):
    from labeling.items.models import ImportBatch

    ImportBatch.objects.filter(pk=batch.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def _queued_upload(project, django_capture_on_commit_callbacks):
    """An upload whose import message is sent to the broker (no worker takes it)."""
    from labeling.items.models import ImportBatch
    from labeling.items.services import upload_path_for
    from labeling.loop.triggers import start_upload_import

    batch = ImportBatch.objects.create(project=project, filename="tickets.csv")
    path = upload_path_for(batch, "tickets.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("text,source\nmy card was charged twice,email\n")
    with django_capture_on_commit_callbacks(execute=True):
        start_upload_import(batch, path, skip_invalid=False)
    batch.refresh_from_db()
    assert batch.state == ImportBatch.PENDING, batch.errors
    return batch, path


def test_a_pending_import_is_failed_as_lost_only_once_the_broker_no_longer_holds_its_message(
        broker, db, project_factory, django_capture_on_commit_callbacks, settings):
    from celery import current_app

    from labeling.items.models import ImportBatch
    from labeling.loop.runs import expire_stale_imports
    from labeling.loop.sweep_imports import import_message_id

    project = project_factory(slug="import-sweep")
    batch, path = _queued_upload(project, django_capture_on_commit_callbacks)
    _age(batch, STALE + 1)
    assert expire_stale_imports(ask_broker=True) == []  # the sweep finds its message queued
    assert expire_stale_imports() == []  # a web request never reads the queues
    with current_app.connection_for_read() as connection:
        queue = connection.SimpleQueue("default")
        message = queue.get(timeout=5)  # handed to a worker that is busy with other work: not started
        assert message.headers["id"] == import_message_id(batch.pk)
        assert expire_stale_imports(ask_broker=True) == []
        queue.close()

    fresh_broker()  # Redis loses its data: the message is in no queue and held by no worker
    real_broker, settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL, f"redis://127.0.0.1:{free_port()}/0"
    assert expire_stale_imports(ask_broker=True) == []  # a broker that cannot be asked: it waits
    settings.CELERY_BROKER_URL = real_broker
    assert ImportBatch.objects.get(pk=batch.pk).state == ImportBatch.PENDING

    assert [b.pk for b in expire_stale_imports(ask_broker=True)] == [batch.pk]
    batch.refresh_from_db()
    message = batch.errors[0]["message"]
    assert batch.state == ImportBatch.FAILED and batch.rows_imported == 0
    assert message.startswith(f"Lost: queued {STALE + 1} s ago, its task message is no longer with the broker"), message
    assert message.endswith("Nothing of this file was imported; upload it again."), message
    assert not path.exists()  # the upload left behind is removed


def test_an_import_never_started_names_the_wait_it_was_given(broker, db, settings, project_factory,
                                                              django_capture_on_commit_callbacks):
    """Where the broker cannot be asked, the age rule fails an upload past the long cut-off and
    names it. (Round 39: a message the broker still holds is waiting, not lost, whatever its age;
    tests/test_round39_stale_waiting_messages.py.)"""
    from labeling.items.models import ImportBatch
    from labeling.loop.runs import expire_stale_imports

    project = project_factory(slug="import-long-wait")
    batch, _ = _queued_upload(project, django_capture_on_commit_callbacks)
    _age(batch, STALE + VISIBILITY + 5)  # no worker ever took it
    real_broker, settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL, f"redis://127.0.0.1:{free_port()}/0"
    try:
        assert [b.pk for b in expire_stale_imports(ask_broker=True)] == [batch.pk]  # cannot be asked: the age rule
    finally:
        settings.CELERY_BROKER_URL = real_broker
    batch.refresh_from_db()
    message = batch.errors[0]["message"]
    assert batch.state == ImportBatch.FAILED
    # The unreachable broker's connection attempt may take a second or two.
    assert any(f"queued {STALE + VISIBILITY + 5 + extra} s ago" in message for extra in range(4)), message
    assert f"cut-off of {STALE + VISIBILITY} s" in message and "LONGTAIL_BROKER_VISIBILITY_TIMEOUT" in message, message
    assert f"the cut-off is {STALE} s" not in message, message
    assert message.endswith("upload it again."), message
