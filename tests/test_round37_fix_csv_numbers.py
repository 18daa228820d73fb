"""README, "Formulas in the CSV": numbers such as a metadata value -122.42 are written as they are.
CSV-imported metadata is stored as text, so the guard must tell a text that is exactly a plain
number (a spreadsheet reads it as a number and runs nothing) from one a spreadsheet would run as a
formula; and the export must still import back as it left, guard on or off."""
import csv
import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects.models import Membership

pytestmark = pytest.mark.django_db

# (text, external_id, note): the note is CSV metadata, stored as a string.
ROWS = [
    ("=1+2 formula", "f1", "-122.42"),
    ("refund please", "-17", "-1e5"),
    ("-5", "f3", "-2+3+cmd|' /C calc'!A0"),
    ("card stolen", "f4", "- 3"),
    ("'quoted' said the agent", "f5", "-inf"),
    ("late delivery", "f6", "-1E-05"),
    ("wrong invoice", "f7", "-\u0663"),
    ("@united lost my bag", "f8", "-.5"),
]
# How the guarded export writes each: a plain negative number as it is, anything else starting
# with a formula character (or ') behind one '.
WRITTEN = {
    "-122.42": "-122.42", "-1e5": "-1e5", "-1E-05": "-1E-05",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0", "- 3": "'- 3", "-inf": "'-inf", "-\u0663": "'-\u0663",
    "-.5": "'-.5",
}


def _items(project):
    return {item.text: (item.external_id, item.metadata) for item in Item.objects.filter(project=project)}


def test_csv_metadata_numbers_are_written_as_they_are_and_come_back(project_factory, make_user, tmp_path):
    origin = project_factory("tickets", labels=("login",), sources=("email",))
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=origin, role=Membership.LEAD)
    source = tmp_path / "t.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "source", "external_id", "label", "note"])
        writer.writerows([text, "email", ext, "login", note] for text, ext, note in ROWS)
    call_command("import_items", "tickets", str(source), "--no-progress")
    stored = _items(origin)
    assert stored["=1+2 formula"] == ("f1", {"note": "-122.42"})  # CSV metadata: a string

    api = APIClient()
    api.force_authenticate(lead)
    response = api.get("/api/projects/tickets/export/csv/")
    assert response.status_code == 200
    guarded = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(guarded)))
    written = {row["external_id"].removeprefix("'"): row for row in rows}  # by id, whatever its guard
    for _, ext, note in ROWS:
        assert written[ext]["meta.note"] == WRITTEN[note], note
    assert "-17" in {row["external_id"] for row in rows}  # an external id that is a plain number: as it is too
    assert written["f1"]["text"] == "'=1+2 formula" and written["f8"]["text"] == "'@united lost my bag"
    assert written["f3"]["text"] == "-5"  # a text that is a number: as a positive one, written as it is
    assert written["f5"]["text"] == "''quoted' said the agent"

    response = api.get("/api/projects/tickets/export/csv/", {"neutralise_formulas": "false"})
    plain = b"".join(response.streaming_content).decode("utf-8")
    for name, body in (("guarded", guarded), ("plain", plain)):
        path = tmp_path / f"{name}.csv"
        path.write_text(body, encoding="utf-8")
        copy = project_factory(f"copy-{name}", labels=("login",), sources=("email",))
        result = run_import(copy, path)
        assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
        assert _items(copy) == stored, name
