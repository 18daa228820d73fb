"""Workers down for longer than LONGTAIL_TASK_STALE_SECONDS + LONGTAIL_BROKER_VISIBILITY_TIMEOUT
(42 minutes by default: a worker host that crashed in the night and is started in the morning, a
long deploy): uploads made meanwhile wait, pending, with their import messages safe in the Redis
queue. When a worker comes back, its first sweep fails every such import as "no worker started the
import ... upload it again" and deletes the uploaded file, although the message is still in the
queue and the same worker is about to take it; the message then imports nothing. The sweep reads
the queues (it does so for a pending batch younger than that cut-off) but past the cut-off it gives
the batch up without looking.

Real stack: gunicorn and a Celery worker on the test's Redis database and PostgreSQL; the time
bounds are set short (a pending cut-off of 32 s) and the worker starts 10 s after the upload."""
import time

import pytest
import redis
import requests

from tests.service_processes import fresh_broker, require_postgres, require_redis, start_web, start_worker, stop

pytestmark = pytest.mark.worker

PORT = 8112
STALE, SOFT, HARD, VISIBILITY = 2, 20, 25, 30  # pending cut-off: STALE + VISIBILITY = 32 s


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def test_an_upload_still_queued_when_the_worker_comes_back_late_is_imported(transactional_db, project_factory,
                                                                             tmp_path):
    require_postgres()
    require_redis()
    fresh_broker()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from labeling.items.models import ImportBatch, Item
    from labeling.projects.models import Membership

    project = project_factory(slug="late-worker")
    lead = get_user_model().objects.create_user("lena")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    env = {"MEDIA_ROOT": str(tmp_path / "media"), "LONGTAIL_ARTIFACT_DIR": str(tmp_path / "artifacts"),
           "LONGTAIL_TASK_STALE_SECONDS": STALE, "LONGTAIL_TASK_SOFT_TIME_LIMIT": SOFT,
           "LONGTAIL_TASK_TIME_LIMIT": HARD, "LONGTAIL_BROKER_VISIBILITY_TIMEOUT": VISIBILITY,
           "LONGTAIL_TASK_MAX_REQUEUES": 0, "LONGTAIL_WARM_ENCODER": "0",
           "DEBUG": "0", "SECRET_KEY": "round39-clocks", "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0",
           "STATIC_ROOT": str(tmp_path / "static")}
    web = start_web(tmp_path / "web.log", PORT, CELERY_TASK_ALWAYS_EAGER="0", **env)
    worker = None
    try:
        base = f"http://127.0.0.1:{PORT}"
        auth = {"Authorization": f"Token {Token.objects.create(user=lead).key}"}
        # No worker is up: the import's message waits in the queue.
        upload = requests.post(f"{base}/api/projects/late-worker/imports/", headers=auth, timeout=60,
                               files={"file": ("tickets.csv", b"text,source\nmy card was charged twice,email\n")})
        assert upload.status_code == 202, upload.text
        batch_id = upload.json()["id"]
        queued = redis.Redis.from_url(settings.REDIS_URL)
        assert queued.llen("default") == 1
        time.sleep(STALE + VISIBILITY + 2)  # the workers stay down past the pending cut-off
        assert queued.llen("default") == 1  # the message is still there, waiting for a worker

        worker = start_worker(tmp_path / "worker.log", **env)
        _wait(lambda: not ImportBatch.objects.filter(pk=batch_id, state__in=[ImportBatch.PENDING,
                                                                              ImportBatch.RUNNING]).exists(), 60)
        batch = ImportBatch.objects.get(pk=batch_id)
        log = (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        stop(worker)
        stop(web)
    assert batch.state == ImportBatch.DONE, (
        f"the import whose message was still queued when the worker came back ended {batch.state!r}: "
        f"{batch.errors}; items imported: {Item.objects.filter(project=project).count()}; worker log tail:\n{log}")
    assert Item.objects.filter(project=project).count() == 1
