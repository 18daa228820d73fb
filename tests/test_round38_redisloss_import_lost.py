"""Round 38 (redisloss): Redis restarted without its data while an upload's import message waited
in the queue (the worker busy, or not started yet).

The workers' sweep asks the broker about a pending retrain or embedding run once the stale cut-off
has passed and fails one whose message is gone as "Lost: …" (docs/operations.md: before, such a
run stayed pending until the visibility timeout plus the cut-off, 2,520 s by default). An upload's
ImportBatch whose message was lost the same way is not asked about: it stays ``pending``, progress
0, with nothing that will ever start it, until that same visibility-timeout-plus-cut-off rule
(``runs.expire_stale_imports``), 42 minutes with the default settings, and meanwhile the lead is
told nothing (and ``delete_project`` refuses the project because of it).

Real stack: a redis-server of this test's own on a free port (restarted empty, as a Redis without
persistence restarts), gunicorn and a Celery worker pointed at it, PostgreSQL. A retrain requested
at the same moment is the control: the sweep fails its run as lost within seconds.
"""
import time

import pytest
import redis
import requests

from tests.service_processes import OwnRedis, free_port, require_postgres, start_web, start_worker, stop

pytestmark = pytest.mark.worker

STALE = 3  # LONGTAIL_TASK_STALE_SECONDS: the sweep runs every second
VISIBILITY = 600  # the pending cut-off is STALE + VISIBILITY: far past this test's wait
WAIT = 45  # seconds after the worker is up: the control run is failed as lost within a few


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def test_an_import_whose_message_redis_lost_is_given_up_like_a_lost_run(transactional_db, project_factory,
                                                                         tmp_path, own_redis):
    require_postgres()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from labeling.items.models import ImportBatch
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Membership

    project = project_factory(slug="lost-import")
    lead = get_user_model().objects.create_user("lena")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    env = {"REDIS_URL": own_redis.url, "MEDIA_ROOT": str(tmp_path / "media"),
           "LONGTAIL_ARTIFACT_DIR": str(tmp_path / "artifacts"), "LONGTAIL_TASK_STALE_SECONDS": STALE,
           "LONGTAIL_TASK_SOFT_TIME_LIMIT": 60, "LONGTAIL_TASK_TIME_LIMIT": 90,
           "LONGTAIL_BROKER_VISIBILITY_TIMEOUT": VISIBILITY, "LONGTAIL_TASK_MAX_REQUEUES": 0,
           "LONGTAIL_WARM_ENCODER": "0", "DEBUG": "0", "SECRET_KEY": "round38-redisloss", "ALLOWED_HOSTS": "127.0.0.1",
           "SECURE_SSL_REDIRECT": "0", "STATIC_ROOT": str(tmp_path / "static")}
    port = free_port()
    web = start_web(tmp_path / "web.log", port, CELERY_TASK_ALWAYS_EAGER="0", **env)
    worker = None
    try:
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Token {Token.objects.create(user=lead).key}"}
        # No worker yet: the import's message (and the retrain's, the control) wait in the queue.
        upload = requests.post(f"{base}/api/projects/lost-import/imports/", headers=auth, timeout=60,
                               files={"file": ("tickets.csv", b"text,source\nmy card was charged twice,email\n")})
        assert upload.status_code == 202, upload.text
        batch_id = upload.json()["id"]
        retrain = requests.post(f"{base}/api/projects/lost-import/models/retrain/", headers=auth, timeout=60)
        assert retrain.status_code == 202, retrain.text
        run_id = retrain.json()["id"]
        assert redis.Redis(port=own_redis.port).llen("default") == 2  # both messages are queued

        own_redis.restart_empty()  # Redis restarts without persistence: both messages are gone
        worker = start_worker(tmp_path / "worker.log", **env)

        # The control: the workers' sweep asks the broker and gives the retrain run up as lost.
        run_lost = _wait(lambda: TaskRun.objects.filter(pk=run_id, state=TaskRun.FAILED,
                                                        message__startswith="Lost:").exists(), WAIT)
        assert run_lost, ("the control failed: the sweep did not find the lost retrain message; worker log:\n"
                          + (tmp_path / "worker.log").read_text()[-3000:])
        _wait(lambda: not ImportBatch.objects.filter(pk=batch_id, state=ImportBatch.PENDING).exists(), 2 * STALE + 2)
        batch = ImportBatch.objects.get(pk=batch_id)
        shown = requests.get(f"{base}/api/projects/lost-import/imports/{batch_id}/", headers=auth, timeout=30).json()
    finally:
        stop(worker)
        stop(web)
    assert batch.state == ImportBatch.FAILED, (
        f"The retrain queued beside it was failed as lost, but the import whose message Redis lost is still "
        f"{batch.state!r} (the page shows state {shown['state']!r}, progress {shown['progress']}, errors "
        f"{shown['errors']}): it stays so until the cut-off plus the visibility timeout "
        f"({STALE + VISIBILITY} s here, 2,520 s by default), and nothing will ever import it.")
    assert "upload it again" in batch.errors[0]["message"], batch.errors
