"""The lead's upload page and the progress JSON, through Django's test client with real files."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership

CSV = b"text,source,external_id\nMy card was charged twice,email,U1\nCannot sign in on my phone,chat,U2\n"


@pytest.fixture
def setup(project_factory, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = project_factory("upload", labels=("billing", "login"), sources=("email", "chat"))
    lead, annotator, outsider = make_user("lead"), make_user("ann"), make_user("outsider")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    return project, lead, annotator, outsider


def upload(client, name=b"tickets.csv", content=CSV, skip_invalid=False):
    data = {"file": SimpleUploadedFile(name.decode(), content, content_type="text/csv")}
    if skip_invalid:
        data["skip_invalid"] = "on"
    return client.post("/p/upload/import/", data)


def test_lead_uploads_and_polls_progress(setup, client, eager_tasks, django_capture_on_commit_callbacks, tmp_path):
    project, lead, *_ = setup
    client.force_login(lead)
    page = client.get("/p/upload/import/")
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client)
    batch = ImportBatch.objects.get(project=project)
    assert response.status_code == 302 and response["Location"] == f"/p/upload/import/{batch.id}/"
    progress = client.get(f"/api/projects/upload/imports/{batch.id}/").json()
    assert progress["state"] == "done" and progress["progress"] == 1.0
    assert progress["rows_total"] == 2 and progress["rows_imported"] == 2 and progress["errors"] == []
    assert set(Item.objects.filter(project=project).values_list("external_id", flat=True)) == {"U1", "U2"}
    assert list((tmp_path / "media" / "imports" / "upload").iterdir()) == []  # the stored upload was removed
    detail = client.get(f"/p/upload/import/{batch.id}/")
    assert detail.status_code == 200 and b"js/import.js" in detail.content
    listing = client.get("/api/projects/upload/imports/").json()
    assert [b["id"] for b in listing] == [batch.id]


def test_errors_are_listed_escaped_and_nothing_imported(setup, client, eager_tasks, django_capture_on_commit_callbacks):
    project, lead, *_ = setup
    client.force_login(lead)
    bad = b"text,source\nfine,email\nhi,<script>alert(1)</script>\n,chat\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, b"bad.csv", bad)
    batch = ImportBatch.objects.get(project=project)
    data = client.get(f"/api/projects/upload/imports/{batch.id}/").json()
    assert data["state"] == "failed" and [(e["line"], e["field"]) for e in data["errors"]] == [(3, "source"), (4, "text")]
    assert Item.objects.filter(project=project).count() == 0
    page = client.get(f"/p/upload/import/{batch.id}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_skip_invalid_upload_offers_the_rejects(setup, client, eager_tasks, django_capture_on_commit_callbacks):
    project, lead, *_ = setup
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, b"mixed.csv", b"text,source\nfine,email\n,chat\n", skip_invalid=True)
    batch = ImportBatch.objects.get(project=project)
    assert batch.state == "done" and batch.rows_imported == 1 and batch.rows_rejected == 1
    page = client.get(f"/p/upload/import/{batch.id}/")
    assert b"rejects.csv" in page.content
    rejects = client.get(f"/p/upload/import/{batch.id}/rejects.csv")
    body = b"".join(rejects.streaming_content).decode()
    assert rejects.status_code == 200 and "the text is empty" in body and ",3,text," in body


def test_upload_over_the_limit_is_refused(setup, client, settings):
    project, lead, *_ = setup
    settings.LONGTAIL_MAX_UPLOAD_BYTES = 10
    client.force_login(lead)
    upload(client)
    batch = ImportBatch.objects.get(project=project)
    message = batch.errors[0]["message"]
    assert batch.state == "failed" and "more than 10 bytes, over the upload limit of 10 bytes" in message
    assert Item.objects.filter(project=project).count() == 0
    assert not (settings.MEDIA_ROOT / "imports").exists()  # reading stopped at the limit, nothing stored


def test_upload_needs_the_csrf_token(setup):
    from django.test import Client

    project, lead, *_ = setup
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert upload(client).status_code == 403
    page = client.get("/p/upload/import/")
    token = page.cookies["csrftoken"].value
    data = {"file": SimpleUploadedFile("t.csv", CSV), "csrfmiddlewaretoken": token}
    assert client.post("/p/upload/import/", data).status_code == 302


def test_roles(setup, client):
    project, lead, annotator, outsider = setup
    assert client.get("/p/upload/import/").status_code == 302
    assert client.get("/p/upload/import/")["Location"].startswith("/accounts/login/")
    assert client.get("/api/projects/upload/imports/").status_code in (401, 403)
    client.force_login(annotator)
    assert client.get("/p/upload/import/").status_code == 403
    assert upload(client).status_code == 403
    assert client.get("/api/projects/upload/imports/").status_code == 403
    assert ImportBatch.objects.count() == 0
    client.force_login(outsider)
    assert client.get("/p/upload/import/").status_code == 404
    assert client.get("/api/projects/upload/imports/").status_code == 404


@pytest.mark.worker
def test_import_worker_runs_an_upload(transactional_db, project_factory, make_user, settings, tmp_path, client):
    """A real Celery worker (Redis broker, PostgreSQL) runs the upload's import."""
    if not os.environ.get("REDIS_URL") or not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL (a worker process cannot share SQLite's test DB)")
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    project = project_factory("upload", labels=("billing",), sources=("email", "chat"))
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    env = {**os.environ, "DATABASE_URL": _test_db_url(settings), "MEDIA_ROOT": str(media)}
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "default", "-c", "1",
         "-P", "solo", "-l", "info"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client.force_login(lead)
        upload(client)
        batch = ImportBatch.objects.get(project=project)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            data = client.get(f"/api/projects/upload/imports/{batch.id}/").json()
            if data["state"] in ("done", "failed"):
                break
            time.sleep(0.5)
        assert data["state"] == "done", (tmp_path / "worker.log").read_text()[-3000:]
        assert Item.objects.filter(project=project).count() == 2
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def _test_db_url(settings) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
