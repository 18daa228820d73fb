"""The import's rejects file, downloaded from the import's page, neutralises every cell a
spreadsheet would run as a formula (as the CSV export does): the file name and raw rows starting
with =, +, -, @. A raw row with its leading ' taken off imports again once fixed."""
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path
from labeling.projects.models import Membership

pytestmark = pytest.mark.django_db
ROWS = b"text,source\n=2+3 formula text,pigeon\n@SUM(9),pigeon\n-1 refund please,pigeon\nfine,email\n"


@pytest.fixture
def lead(project_factory, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = project_factory("rejects", labels=("billing",), sources=("email",))
    user = make_user("lena")
    Membership.objects.create(user=user, project=project, role=Membership.LEAD)
    return project, user


def test_rejects_download_neutralises_formula_cells_and_a_fixed_row_imports_again(
        lead, client, eager_tasks, django_capture_on_commit_callbacks, tmp_path):
    project, user = lead
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/p/rejects/import/", {"file": SimpleUploadedFile("=1+2.csv", ROWS, content_type="text/csv"),
                                           "skip_invalid": "on"})
    batch = ImportBatch.objects.get(project=project)
    assert (batch.state, batch.rows_imported, batch.rows_rejected) == ("done", 1, 3), batch.errors
    response = client.get(f"/p/rejects/import/{batch.id}/rejects.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["file"] for r in rows] == ["'=1+2.csv"] * 3
    assert [r["raw"] for r in rows] == ["'=2+3 formula text,pigeon", "'@SUM(9),pigeon", "'-1 refund please,pigeon"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    assert [(r["line"], r["field"]) for r in rows] == [("2", "source"), ("3", "source"), ("4", "source")]

    fixed = tmp_path / "fixed.csv"
    fixed.write_text("text,source\n" + "".join(r["raw"].removeprefix("'").replace("pigeon", "email") + "\n"
                                               for r in rows), encoding="utf-8")
    assert import_path(project, fixed).ok
    assert set(Item.objects.filter(project=project).values_list("text", flat=True)) == {
        "fine", "=2+3 formula text", "@SUM(9)", "-1 refund please"}
