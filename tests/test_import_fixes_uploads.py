"""Uploads, through the page and the API with real files: an upload named like the rejects file
keeps both, the rejects download waits for the end of the import, a failed write of the upload
answers with its cause and leaves no pending import, and a refused upload has ended."""
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.items import services
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership

MIXED = b"text,source\nrejects name row ok,web\nbad source row,nosuch\n"


@pytest.fixture
def lead_client(project_factory, make_user, settings, tmp_path, client):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = project_factory("up", labels=("billing",), sources=("web",))
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    return project, client


def api_upload(client, name, content, **fields):
    return client.post("/api/projects/up/imports/", {"file": SimpleUploadedFile(name, content), **fields})


def page_upload(client, name, content, **fields):
    return client.post("/p/up/import/", {"file": SimpleUploadedFile(name, content), **fields})


# --- an upload named rejects.csv ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rejects.csv", "x-rejects.csv", "../rejects.csv"])
def test_an_upload_named_like_the_rejects_file_imports_and_keeps_its_rejects(
        lead_client, eager_tasks, django_capture_on_commit_callbacks, name):
    project, client = lead_client
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_upload(client, name, MIXED, skip_invalid="true")
    batch = ImportBatch.objects.get(pk=answer.json()["id"])
    assert (batch.state, batch.rows_imported, batch.rows_rejected) == ("done", 1, 1), batch.errors
    assert list(Item.objects.filter(project=project).values_list("text", flat=True)) == ["rejects name row ok"]
    page = client.get(f"/p/up/import/{batch.id}/")
    assert b"Download the rejected rows" in page.content
    download = client.get(f"/p/up/import/{batch.id}/rejects.csv")
    body = b"".join(download.streaming_content).decode()
    assert download.status_code == 200 and body.startswith("file,line,field,reason,raw")
    assert ",3,source,unknown source 'nosuch'" in body and "bad source row,nosuch" in body
    # the stored upload is gone, the rejects file stays
    assert [p.name for p in services.upload_dir(project).iterdir()] == [services.rejects_path_for(batch).name]


def test_no_upload_name_gives_the_rejects_files_path(lead_client):
    project, _ = lead_client
    batch = ImportBatch.objects.create(project=project, filename="rejects.csv")
    rejects = services.rejects_path_for(batch)
    for name in ("rejects.csv", f"{batch.id}-rejects.csv", "-rejects.csv", "a/rejects.csv", "", "..", "rejects.csv\x00"):
        assert services.upload_path_for(batch, name) != rejects
        assert services.upload_path_for(batch, name).parent == rejects.parent


def test_while_an_upload_waits_it_offers_no_rejects_download(lead_client):
    """The page used to offer the stored upload itself as 'the rejected rows' while it waited."""
    project, client = lead_client
    batch, path = services.save_upload(project, SimpleUploadedFile("rejects.csv", MIXED), None)
    assert batch.state == ImportBatch.PENDING and path.read_bytes() == MIXED
    page = client.get(f"/p/up/import/{batch.id}/")
    assert page.status_code == 200 and b"Download the rejected rows" not in page.content
    assert client.get(f"/p/up/import/{batch.id}/rejects.csv").status_code == 404


def test_the_command_refuses_a_rejects_file_that_is_the_input(lead_client, tmp_path):
    project, _ = lead_client
    path = tmp_path / "in.csv"
    path.write_bytes(MIXED)
    result = run_import(project, path, skip_invalid=True, rejects_path=tmp_path / "." / "in.csv")
    assert not result.ok and "is the file being imported" in result.errors[0].message
    assert path.read_bytes() == MIXED and not Item.objects.filter(project=project).exists()


# --- the upload cannot be stored ------------------------------------------------------------------
@pytest.fixture
def media_under_a_file(settings, tmp_path):
    """MEDIA_ROOT below a regular file: mkdir fails with ENOTDIR even for root."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder's parent should be")
    settings.MEDIA_ROOT = blocker / "media"
    return blocker


def test_api_upload_that_cannot_be_stored_answers_503_naming_the_cause(lead_client, media_under_a_file):
    project, client = lead_client
    answer = client.post("/api/projects/up/imports/", {"file": SimpleUploadedFile("t.csv", MIXED)},
                         HTTP_ACCEPT="application/json")
    assert answer.status_code == 503, answer.content
    detail = answer.json()["detail"]
    assert "could not be stored" in detail and "Not a directory" in detail and "nothing was imported" in detail
    assert str(media_under_a_file) not in detail  # the server's paths stay on the server (in the log)
    batch = ImportBatch.objects.get(project=project)
    assert answer.json()["import"]["id"] == batch.id
    assert batch.state == ImportBatch.FAILED and batch.finished_at is not None and batch.progress == 1.0
    assert batch.errors[0]["message"] == detail
    assert not ImportBatch.objects.filter(state=ImportBatch.PENDING).exists()


def test_page_upload_that_cannot_be_stored_shows_the_failed_import(lead_client, media_under_a_file):
    project, client = lead_client
    answer = page_upload(client, "t.csv", MIXED)
    batch = ImportBatch.objects.get(project=project)
    assert answer.status_code == 302 and answer["Location"] == f"/p/up/import/{batch.id}/"
    assert batch.state == ImportBatch.FAILED and batch.finished_at is not None
    page = client.get(answer["Location"]).content.decode()
    assert "could not be stored" in page and "Not a directory" in page
    # no row to fix: the page does not ask for one
    assert "Nothing was imported: see the reason below." in page and "fix the rows below" not in page


def test_a_full_disk_answers_507(lead_client, settings, tmp_path):
    """A real full file system: a 64 KiB tmpfs as MEDIA_ROOT (needs the right to mount)."""
    project, client = lead_client
    media = tmp_path / "small"
    media.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(media)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        settings.MEDIA_ROOT = media
        content = b"text\n" + b"a row long enough to fill the disk\n" * 8000  # 280 KB
        answer = api_upload(client, "big.csv", content)
        assert answer.status_code == 507, answer.content
        assert "No space left on device" in answer.json()["detail"]
        batch = ImportBatch.objects.get(project=project)
        assert batch.state == ImportBatch.FAILED and batch.finished_at is not None
        assert list(Path(media, "imports", "up").iterdir()) == []  # the partial copy is removed
    finally:
        subprocess.run(["umount", str(media)], check=True)


# --- refused uploads have ended -------------------------------------------------------------------
@pytest.mark.parametrize("via", ["api", "page"])
def test_an_oversized_upload_is_failed_and_finished(lead_client, settings, via):
    project, client = lead_client
    settings.LONGTAIL_MAX_UPLOAD_BYTES = 10
    (api_upload if via == "api" else page_upload)(client, "t.csv", MIXED)
    batch = ImportBatch.objects.get(project=project)
    assert batch.state == ImportBatch.FAILED and batch.progress == 1.0
    assert batch.finished_at is not None and batch.finished_at >= batch.created_at
    assert client.get(f"/api/projects/up/imports/{batch.id}/").json()["finished_at"] is not None


def test_a_failed_import_with_bad_rows_asks_to_fix_them(lead_client, eager_tasks, django_capture_on_commit_callbacks):
    _, client = lead_client
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_upload(client, "mixed.csv", MIXED, skip_invalid="false")
    batch = ImportBatch.objects.get(pk=answer.json()["id"])
    assert batch.state == ImportBatch.FAILED and batch.errors[0]["line"] == 3
    page = client.get(f"/p/up/import/{batch.id}/").content.decode()
    assert "fix the rows below and upload again" in page and "see the reason below" not in page
