"""What the user reads after an import that made no item but brought labels to items the project held
(or left an export's copied labels out): the import page, the list of imports, the API's import
status (and its schema) and import_items all say so, not only "imported 0 of N rows". Uploads go
through the real upload paths (the page's form and the API) with the import task run in-process."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership

pytestmark = pytest.mark.django_db

CORPUS = (
    "external_id,text,source\n"
    "T1,My card was charged twice,email\n"
    "T2,Cannot sign in to the app,email\n"
    "T3,Where is my refund,chat\n"
)
# Labels only, for the items above: by external_id and by text and source.
LABELS = (
    b"external_id,text,source,label\n"
    b"T1,My card was charged twice,email,billing\n"
    b",Cannot sign in to the app,email,login\n"
)
EXPORT_HEADER = "item_id,external_id,text,label,coarse_label,label_source,source,votes\n"


@pytest.fixture
def moved(project_factory, make_user, settings, tmp_path):
    """A project holding a team's corpus, no labels yet, and its lead."""
    settings.MEDIA_ROOT = tmp_path / "media"
    project = project_factory("moved", labels=("billing", "login"), sources=("email", "chat"))
    corpus = tmp_path / "corpus.csv"
    corpus.write_text(CORPUS, encoding="utf-8")
    assert run_import(project, corpus).ok
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    return project, lead


def labels_brought(project) -> list[tuple]:
    return sorted(Annotation.objects.filter(project=project).values_list("item__external_id", "label__name"))


def test_api_upload_of_labels_only_says_the_labels_came(moved, eager_tasks, django_capture_on_commit_callbacks):
    project, lead = moved
    api = APIClient()
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post(
            "/api/projects/moved/imports/",
            {"file": SimpleUploadedFile("labels.csv", LABELS, content_type="text/csv")},
            format="multipart",
        )
    assert reply.status_code == 202, reply.content
    status = api.get(reply["Location"]).json()
    assert status["state"] == "done", status["errors"]
    assert (status["rows_total"], status["rows_imported"]) == (2, 0)
    assert (status["labels_attached"], status["copied_labels_left_out"], status["rows_left_out"]) == (2, 0, 0)
    assert status["note"] == "2 labels brought to items the project already held (no item made for those rows)."
    assert labels_brought(project) == [("T1", "billing"), ("T2", "login")]
    assert Item.objects.filter(project=project).count() == 3
    listed = {b["id"]: b for b in api.get("/api/projects/moved/imports/").json()}
    assert listed[status["id"]]["labels_attached"] == 2 and listed[status["id"]]["note"] == status["note"]


def test_api_upload_of_an_export_copy_says_the_copied_label_was_left_out(
    moved, eager_tasks, django_capture_on_commit_callbacks
):
    project, lead = moved
    api = APIClient()
    api.force_authenticate(lead)
    copy = (EXPORT_HEADER + "9,T3,Where is my refund,billing,,duplicate,chat,\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post(
            "/api/projects/moved/imports/",
            {"file": SimpleUploadedFile("export.csv", copy, content_type="text/csv")},
            format="multipart",
        )
    status = api.get(reply["Location"]).json()
    assert status["state"] == "done", status["errors"]
    assert (status["rows_imported"], status["labels_attached"]) == (0, 0)
    assert (status["copied_labels_left_out"], status["rows_left_out"]) == (1, 1)
    assert "1 label left out" in status["note"] and "1 row of them not imported at all" in status["note"]
    assert not Annotation.objects.filter(project=project).exists()


def test_page_upload_of_labels_only_shows_the_labels_on_the_import_and_in_the_list(
    moved, client, eager_tasks, django_capture_on_commit_callbacks
):
    project, lead = moved
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/p/moved/import/", {"file": SimpleUploadedFile("labels.csv", LABELS, content_type="text/csv")}
        )
    assert response.status_code == 302
    batch = ImportBatch.objects.get(project=project, filename="labels.csv")
    assert response["Location"] == f"/p/moved/import/{batch.id}/"
    page = client.get(response["Location"]).content.decode()
    assert 'id="import-state">done<' in page
    assert 'imported <span id="rows-imported">0</span>' in page
    assert 'labels brought to items already held <span id="labels-attached">2</span>' in page
    note = html.escape("2 labels brought to items the project already held (no item made for those rows).")
    assert f'<p id="import-note" class="notice info" role="status">{note}</p>' in page
    listing = client.get("/p/moved/import/").content.decode()
    assert "<th>Labels to held items</th>" in listing
    row = listing[listing.index(f"/p/moved/import/{batch.id}/") :]
    row = row[: row.index("</tr>")]
    assert f'title="{note}">2</td>' in row


def test_a_failed_labels_file_shows_no_labels_brought(moved, client, eager_tasks, django_capture_on_commit_callbacks):
    """Refused (a label the project does not have): nothing written, no count and no note."""
    project, lead = moved
    project.allow_new_labels = False
    project.save(update_fields=["allow_new_labels"])
    client.force_login(lead)
    bad = LABELS + b"T3,Where is my refund,chat,no-such-label\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/p/moved/import/", {"file": SimpleUploadedFile("bad.csv", bad, content_type="text/csv")}
        )
    batch = ImportBatch.objects.get(project=project, filename="bad.csv")
    assert batch.state == ImportBatch.FAILED
    assert (batch.labels_attached, batch.copied_labels_left_out, batch.rows_left_out, batch.note) == (0, 0, 0, "")
    page = client.get(response["Location"]).content.decode()
    assert 'id="import-note"' not in page and 'id="labels-attached"' not in page
    assert not Annotation.objects.filter(project=project).exists()


def test_import_items_prints_the_labels_brought(moved, tmp_path, capsys):
    project, _ = moved
    labels = tmp_path / "labels.csv"
    labels.write_bytes(LABELS)
    call_command("import_items", "moved", str(labels), "--no-progress")
    out = capsys.readouterr().out
    assert "labels.csv: imported 0 of 2 rows into 'moved'" in out
    assert "2 labels brought to items the project already held (no item made for those rows)." in out
    batch = ImportBatch.objects.get(project=project, filename="labels.csv")
    assert (batch.rows_imported, batch.labels_attached) == (0, 2)


def test_the_schema_describes_the_counts(moved):
    _, lead = moved
    api = APIClient()
    api.force_authenticate(lead)
    reply = api.get("/api/schema/?format=json")
    assert reply.status_code == 200
    properties = reply.json()["components"]["schemas"]["ImportBatch"]["properties"]
    for name in ("labels_attached", "copied_labels_left_out", "rows_left_out"):
        assert properties[name]["type"] == "integer" and properties[name].get("readOnly") is True
        assert properties[name]["description"]
    assert (
        properties["note"]["type"] == "string" and "as the import page says them" in properties["note"]["description"]
    )
