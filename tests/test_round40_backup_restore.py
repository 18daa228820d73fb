"""Round 40 (backup): a backup restored on another host, as docs/operations.md ("Backups") describes it.

1. An upload whose import message waits in the broker when the stack moves to another host (a Redis
   that both hosts reach, or whose data went along) names its file by the old host's absolute
   path (``triggers.start_upload_import`` sends ``str(path)``). The new host's worker, whose
   ``MEDIA_ROOT`` holds the restored upload under another path, fails the import with "the file
   could not be read: [Errno 2] No such file or directory: '<old host's path>'" while the file is
   right there. Model versions' files were made host-relative for exactly this move
   (``labeling/modeling/artifact_paths.py``); the upload is not.
2. The "Backups" section backs up the database and the ``artifacts`` volume, but its restore steps
   restore only the database: an admin who follows them literally has no fine-tuned encoders and no
   large heads on the new host.

Real stack for (1): PostgreSQL (pytest's test database), a redis-server of this test's own, gunicorn
for the upload and a Celery worker for the import, each with the host's own ``MEDIA_ROOT``.
"""
import re
import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.service_processes import OwnRedis, free_port, require_postgres, start_web, start_worker, stop

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def _host_env(host: Path, redis_url: str) -> dict:
    return {"REDIS_URL": redis_url, "MEDIA_ROOT": str(host / "media"), "LONGTAIL_ARTIFACT_DIR": str(host / "artifacts"),
            "LONGTAIL_TASK_STALE_SECONDS": 5, "LONGTAIL_BROKER_VISIBILITY_TIMEOUT": 600,
            "LONGTAIL_TASK_SOFT_TIME_LIMIT": 120, "LONGTAIL_TASK_TIME_LIMIT": 180, "LONGTAIL_WARM_ENCODER": "0",
            "DEBUG": "0", "SECRET_KEY": f"round40-backup-{host.name}", "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0", "STATIC_ROOT": str(host / "static"), "OMP_NUM_THREADS": "1"}


@pytest.mark.worker
def test_an_upload_queued_before_a_move_is_imported_from_the_new_hosts_media_root(
        transactional_db, project_factory, tmp_path, own_redis):
    require_postgres()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from labeling.items.models import ImportBatch, Item
    from labeling.projects.models import Membership

    project = project_factory(slug="moved")
    lead = get_user_model().objects.create_user("lena")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    old_host, new_host = tmp_path / "old-host", tmp_path / "new-host"

    # The old host takes the upload; no worker runs there any more (the stack is being moved).
    port = free_port()
    web = start_web(tmp_path / "web.log", port, CELERY_TASK_ALWAYS_EAGER="0", **_host_env(old_host, own_redis.url))
    try:
        auth = {"Authorization": f"Token {Token.objects.create(user=lead).key}"}
        upload = requests.post(f"http://127.0.0.1:{port}/api/projects/moved/imports/", headers=auth, timeout=120,
                               files={"file": ("tickets.jsonl", b'{"text": "my card was charged twice"}\n'
                                                                b'{"text": "the app will not let me log in"}\n')})
        assert upload.status_code == 202, upload.text
        batch_id = upload.json()["id"]
    finally:
        stop(web)

    # The move: the media folder goes to the new host's MEDIA_ROOT; the old host's paths are gone.
    shutil.copytree(old_host / "media", new_host / "media")
    shutil.rmtree(old_host)
    restored = list((new_host / "media" / "imports" / "moved").glob("*.upload"))
    assert len(restored) == 1, restored  # the upload is on the new host, under its MEDIA_ROOT

    worker = start_worker(tmp_path / "worker.log", **_host_env(new_host, own_redis.url))
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            batch = ImportBatch.objects.get(pk=batch_id)
            if batch.state in (ImportBatch.DONE, ImportBatch.FAILED):
                break
            time.sleep(0.5)
    finally:
        stop(worker)
    batch = ImportBatch.objects.get(pk=batch_id)
    assert batch.state == ImportBatch.DONE, (
        f"The upload was restored under the new host's MEDIA_ROOT ({restored[0]}), but its import is "
        f"{batch.state!r}: {batch.errors}. Worker log tail:\n" + (tmp_path / "worker.log").read_text()[-2000:])
    assert Item.objects.filter(project=project).count() == 2


def test_the_backup_sections_restore_steps_restore_the_artifacts_it_backs_up():
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Backups\n"):text.index("\n## Deleting a project\n")]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    backup, _, restore = block.partition("# restore")
    assert "artifacts-" in backup and "tar czf" in backup  # the artifacts volume is backed up …
    restore_lines = [line for line in restore.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert any("artifacts-" in line and re.search(r"\btar\b.*\bx", line) for line in restore_lines), (
        "docs/operations.md backs up the artifacts volume (trained heads too large for the database, "
        "fine-tuned encoders, uploads) but its restore steps restore only the database:\n" + restore)


def test_scaling_out_names_the_storage_a_worker_machine_needs():
    """A worker machine that reaches only PostgreSQL and Redis fails every import it takes (the
    upload is a file under the web's MEDIA_ROOT: the test above shows the error) and keeps the
    final models it trains to itself (their encoders are files under LONGTAIL_ARTIFACT_DIR)."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    start = text.index("**Scaling out.**")
    paragraph = text[start:text.index("```", start)]
    assert "MEDIA_ROOT" in paragraph and "LONGTAIL_ARTIFACT_DIR" in paragraph, (
        "docs/operations.md, Scaling out, says a worker machine needs only the same PostgreSQL and Redis:\n"
        + paragraph)
