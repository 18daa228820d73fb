"""What an export carries that its re-import read wrongly: an empty metadata key (a CSV column
named "meta." came back as the key "meta."), a text starting with ' in an export written without
the formula guard whose only formula-like cells are negative metadata numbers (taken for guarded:
one ' taken off), and a JSONL row whose metadata is not an object (stored by older versions; read
back as an ordinary row, its provenance columns became metadata)."""
import csv
import json

import pytest
from django.core.management import call_command

from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item

pytestmark = pytest.mark.django_db


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _export(tmp_path, slug, fmt, *options):
    out = tmp_path / f"{slug}-{fmt}{'-plain' if options else ''}.{fmt}"
    call_command("export_labels", slug, "--format", fmt, "--out", str(out), *options)
    return out


def _items(project):
    return {item.text: (item.external_id, item.metadata) for item in Item.objects.filter(project=project)}


def test_an_empty_metadata_key_is_refused_on_import_naming_line_and_field(project_factory, tmp_path):
    project = project_factory("empty-key", labels=("praise",), sources=())
    path = _write_jsonl(tmp_path / "rows.jsonl", [{"text": "fine", "k": 1}, {"text": "odd", "": 1},
                                                  {"text": "blank", " ": "x", "label": "praise"}])
    result = run_import(project, path)
    assert not result.ok and Item.objects.filter(project=project).count() == 0
    assert [(e.line, e.field) for e in result.errors] == [(2, "metadata"), (3, "metadata")]
    assert "empty" in result.errors[0].message
    assert result.batch.errors[0]["file"] == "rows.jsonl"


def test_an_empty_metadata_key_stored_earlier_is_refused_when_its_csv_export_comes_back(project_factory, tmp_path):
    origin = project_factory("origin", labels=("praise",), sources=())
    assert run_import(origin, _write_jsonl(tmp_path / "in.jsonl", [
        {"text": "kept", "label": "praise", "k": "v"}, {"text": "odd", "label": "praise"}])).ok
    Item.objects.filter(project=origin, text="odd").update(metadata={"": 1, "k": "w"})  # as older versions stored
    exported = _export(tmp_path, "origin", "csv")
    with open(exported, newline="", encoding="utf-8") as handle:
        assert "meta." in next(csv.reader(handle))
    copy = project_factory("copy", labels=("praise",), sources=())
    result = run_import(copy, exported, skip_invalid=True)
    assert [(e.line, e.field) for e in result.errors] == [(3, "metadata")], [e.message for e in result.errors]
    assert _items(copy) == {"kept": (None, {"k": "v"})}


def test_an_unguarded_export_keeps_a_leading_quote_when_only_negative_numbers_look_like_formulas(
        project_factory, tmp_path):
    origin = project_factory("origin", labels=("praise",), sources=())
    assert run_import(origin, _write_jsonl(tmp_path / "in.jsonl", [
        {"text": "'quoted' said the agent", "external_id": "'e1", "label": "praise", "lon": -122.42},
        {"text": "plain ticket", "external_id": "e2", "label": "praise", "lon": 2.5}])).ok
    expected = {"'quoted' said the agent": ("'e1", {"lon": "-122.42"}), "plain ticket": ("e2", {"lon": "2.5"})}
    for options, slug in (((), "guarded-copy"), (("--no-neutralise-formulas",), "plain-copy")):
        exported = _export(tmp_path, "origin", "csv", *options)
        copy = project_factory(slug, labels=("praise",), sources=())
        result = run_import(copy, exported)
        assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
        assert _items(copy) == expected, slug


def test_a_guarded_export_still_loses_only_its_guards(project_factory, tmp_path):
    origin = project_factory("origin", labels=("praise",), sources=())
    rows = [{"text": "''twice", "external_id": "'=x", "label": "praise", "d": -3},
            {"text": "=1+1", "external_id": "@e", "label": "praise", "note": "'n"}]
    assert run_import(origin, _write_jsonl(tmp_path / "in.jsonl", rows)).ok
    copy = project_factory("copy", labels=("praise",), sources=())
    assert run_import(copy, _export(tmp_path, "origin", "csv")).ok
    assert _items(copy) == {"''twice": ("'=x", {"d": "-3"}), "=1+1": ("@e", {"note": "'n"})}


@pytest.mark.parametrize("stored", [[1, 2], "free text", 7])
def test_a_jsonl_export_row_whose_metadata_is_not_an_object_is_refused_on_reimport(project_factory, tmp_path, stored):
    origin = project_factory("origin", labels=("praise",), sources=())
    assert run_import(origin, _write_jsonl(tmp_path / "in.jsonl", [
        {"text": "kept", "label": "praise", "k": "v"}, {"text": "old", "label": "praise"}])).ok
    exported = _export(tmp_path, "origin", "jsonl")
    # As an older version exported it: the database no longer holds such metadata, so the file is edited.
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["text"] == "old":
            row["metadata"] = stored
    exported.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    copy = project_factory("copy", labels=("praise",), sources=())
    result = run_import(copy, exported)
    assert not result.ok and result.batch.state == ImportBatch.FAILED
    assert [e.field for e in result.errors] == ["metadata"]
    assert "not an object" in result.errors[0].message
    assert Item.objects.filter(project=copy).count() == 0
    result = run_import(copy, exported, skip_invalid=True)
    assert _items(copy) == {"kept": (None, {"k": "v"})}
