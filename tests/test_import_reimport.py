"""Importing a file again: rows without an external id that are already in the project (same text,
same source, from an earlier import) are refused, so their items and labels are not duplicated;
--skip-invalid imports only the new rows. And an upload that breaks the importer, run by a real
Celery worker, ends FAILED instead of staying running."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.annotations.models import Annotation
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership

FIRST = "text,source,label\nMy card was charged twice,email,billing\nCannot sign in,chat,login\nThanks!,email,\n"


@pytest.fixture
def project(project_factory):
    return project_factory("again", labels=("billing", "login"), sources=("email", "chat"))


def run(project, path, *flags):
    try:
        call_command("import_items", project.slug, str(path), "--no-progress", *flags)
    except CommandError:
        pass
    return ImportBatch.objects.filter(project=project).latest("id")


def test_the_same_file_twice_is_refused_naming_each_row(project, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text(FIRST, encoding="utf-8")
    assert run(project, path).state == "done"
    before = (Item.objects.count(), Annotation.objects.count())
    again = run(project, path)
    assert again.state == "failed"
    assert [(e["line"], e["field"]) for e in again.errors] == [(2, "text"), (3, "text"), (4, "text")]
    first_item = Item.objects.get(project=project, text="My card was charged twice")
    message = again.errors[0]["message"]
    assert f"item {first_item.id}, imported from 'tickets.csv'" in message and "external_id" in message
    assert (Item.objects.count(), Annotation.objects.count()) == before  # no duplicated rows or labels


def test_skip_invalid_imports_only_the_new_rows(project, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text(FIRST, encoding="utf-8")
    run(project, path)
    grown = tmp_path / "tickets-grown.csv"
    grown.write_text(FIRST + "A new complaint about fees,email,billing\n", encoding="utf-8")
    batch = run(project, grown, "--skip-invalid")
    assert batch.state == "done" and batch.rows_imported == 1 and batch.rows_rejected == 3
    assert Item.objects.filter(project=project, text="My card was charged twice").count() == 1
    assert Annotation.objects.filter(project=project, label__name="billing").count() == 2


def test_same_text_from_another_source_or_with_external_ids_is_new(project, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text(FIRST, encoding="utf-8")
    run(project, path)
    other_source = tmp_path / "chat.csv"
    other_source.write_text("text,source\nThanks!,chat\n", encoding="utf-8")
    assert run(project, other_source).state == "done"
    with_ids = tmp_path / "ids.csv"
    with_ids.write_text("text,source,external_id\nThanks!,email,T-9\n", encoding="utf-8")
    assert run(project, with_ids).state == "done"
    assert Item.objects.filter(project=project, text="Thanks!").count() == 3
    # Near the same is not the same: digits differ, so the text is another ticket.
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("text,source\nOrder 1 is late,email\n", encoding="utf-8")
    run(project, numbers)
    numbers.write_text("text,source\nOrder 2 is late,email\n", encoding="utf-8")
    assert run(project, numbers).state == "done"


@pytest.mark.worker
def test_upload_of_deep_json_with_a_real_worker(transactional_db, project_factory, make_user, settings, tmp_path, client):
    """The Celery task is not changed: the importer itself records the failure, so a real worker
    leaves the batch FAILED with a line and field, never running."""
    if not os.environ.get("REDIS_URL") or not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL (a worker process cannot share SQLite's test DB)")
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    project = project_factory("deepworker", labels=("billing",), sources=("email",))
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {**os.environ, "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "MEDIA_ROOT": str(media), "DB_CONN_MAX_AGE": "0"}
    log_path = tmp_path / "worker.log"
    log = open(log_path, "wb")
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "default", "-c", "1",
         "-P", "solo", "-l", "info", "--without-gossip", "--without-mingle"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client.force_login(lead)
        content = b'{"text": "fine"}\n{"text": "deep", "meta": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n"
        response = client.post("/api/projects/deepworker/imports/", {"file": SimpleUploadedFile("deep.jsonl", content)})
        assert response.status_code == 202, response.content[:300]
        url = response["Location"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            data = client.get(url).json()
            if data["state"] in ("done", "failed"):
                break
            time.sleep(0.5)
        assert data["state"] == "failed", log_path.read_text()[-3000:]
        assert [(e["line"], e["field"]) for e in data["errors"]] == [(2, "meta")]
        assert Item.objects.filter(project=project).count() == 0
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
