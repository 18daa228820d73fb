"""A CSV export with a negative number in its metadata imports back as it left. The formula guard
never prefixes numbers, so a guarded export of an item with longitude -122.42 holds the cell
-122.42 as it is; the import took that one cell as proof the whole file was unguarded and kept
every guard quote in the data: '=1+2… came back as "'=1+2…", the external id -17 as "'-17", and a
label named =SUM(A1) was refused as unknown."""
import csv
import json

import pytest
from django.core.management import call_command

from labeling.items.importer import run_import
from labeling.items.models import Item

pytestmark = pytest.mark.django_db

LABELS = ("praise", "=SUM(A1)", "-minus", "+plus", "@at", "'quoted label")

ROWS = [
    {"text": "=1+2 charged twice", "external_id": "-17", "label": "praise", "source": "email",
     "lon": 2.35, "delta": 5},
    {"text": "@united lost my bag", "external_id": "@ext", "label": "=SUM(A1)", "source": "email",
     "lon": 4.9, "code": "=HYPERLINK(x)"},
    {"text": "'quoted' said the agent", "external_id": "'e3", "label": "'quoted label", "source": "chat",
     "lon": -122.42, "delta": -17},
    {"text": "+44 call me back", "label": "+plus", "source": "chat", "tiny": -1e-05, "note": "-5"},
    {"text": "-minus sign first", "external_id": "+e5", "label": "-minus", "source": "email", "lat": -33.9},
    {"text": "plain ticket", "external_id": "e6", "label": "@at", "source": "chat", "lon": -0.5},
]

# What each item comes back as: texts, ids and labels unchanged; metadata as text, as a CSV carries it.
EXPECTED = {
    "=1+2 charged twice": ("-17", "praise", {"lon": "2.35", "delta": "5"}),
    "@united lost my bag": ("@ext", "=SUM(A1)", {"lon": "4.9", "code": "=HYPERLINK(x)"}),
    "'quoted' said the agent": ("'e3", "'quoted label", {"lon": "-122.42", "delta": "-17"}),
    "+44 call me back": (None, "+plus", {"tiny": "-1e-05", "note": "-5"}),
    "-minus sign first": ("+e5", "-minus", {"lat": "-33.9"}),
    "plain ticket": ("e6", "@at", {"lon": "-0.5"}),
}


def _copied(project):
    return {item.text: (item.external_id, item.annotations.get().label.name, item.metadata)
            for item in Item.objects.filter(project=project).prefetch_related("annotations__label")}


def test_a_guarded_csv_export_with_negative_metadata_numbers_imports_back_as_it_left(project_factory, tmp_path):
    origin = project_factory("origin", labels=LABELS, sources=("email", "chat"))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    assert run_import(origin, source).ok

    for guard, slug in ((True, "guarded-copy"), (False, "plain-copy")):
        exported = tmp_path / f"{slug}.csv"
        call_command("export_labels", "origin", "--format", "csv", "--out", str(exported),
                     *(() if guard else ("--no-neutralise-formulas",)))
        with open(exported, newline="", encoding="utf-8") as handle:
            written = {row["text"]: row for row in csv.DictReader(handle)}
        if guard:  # the guard is on texts, ids and labels, not on the numbers
            assert written["''quoted' said the agent"]["meta.lon"] == "-122.42"
            assert written["''quoted' said the agent"]["meta.delta"] == "-17"
            assert written["'=1+2 charged twice"]["external_id"] == "-17"  # a plain number, in any column
            assert written["'@united lost my bag"]["label"] == "'=SUM(A1)"
        else:
            assert written["=1+2 charged twice"]["external_id"] == "-17"

        copy = project_factory(slug, labels=LABELS, sources=("email", "chat"))
        result = run_import(copy, exported)
        assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
        assert _copied(copy) == EXPECTED, f"guard {'on' if guard else 'off'}"


def test_an_unguarded_export_is_still_told_by_its_texts_when_a_metadata_cell_looks_negative(
        project_factory, tmp_path):
    """Only a metadata cell that reads as a number is let off: a text or an external id starting
    with - in an export with the guard off still shows the guard was off, so a text starting with '
    keeps it. And a guarded file whose only unguarded-looking cells are metadata numbers is guarded."""
    origin = project_factory("origin", labels=("praise",), sources=("email",))
    rows = [{"text": "'kept quote", "external_id": "-3", "label": "praise", "source": "email", "lon": -1.5},
            {"text": "another ticket", "label": "praise", "source": "email", "lon": -2}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert run_import(origin, source).ok

    plain = tmp_path / "plain.csv"
    call_command("export_labels", "origin", "--format", "csv", "--out", str(plain), "--no-neutralise-formulas")
    guarded = tmp_path / "guarded.csv"
    call_command("export_labels", "origin", "--format", "csv", "--out", str(guarded))
    for path, slug in ((plain, "plain-copy"), (guarded, "guarded-copy")):
        copy = project_factory(slug, labels=("praise",), sources=("email",))
        result = run_import(copy, path)
        assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
        assert _copied(copy) == {"'kept quote": ("-3", "praise", {"lon": "-1.5"}),
                                 "another ticket": (None, "praise", {"lon": "-2"})}, slug
