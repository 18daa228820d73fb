"""A label export CSV that its own importer refuses whole: two metadata keys the importer keeps
apart when items come in, but reads as one column when the export comes back.

docs/export.md: "A label export (CSV or JSONL, formula guard on or off) imports into a project with
the same labels and sources as any file does". The importer matches a CSV header ignoring invisible
characters and surrounding spaces (labeling/items/readers.py, ``CsvReader._header``), but stores
metadata keys as they were written: one file's column ``region`` and another file's ``region`` with a
zero-width space pasted after it (or a JSONL key ``"region "``) become two keys. The export CSV then
has the columns ``meta.region`` and ``meta.region<ZWSP>`` (``meta.region `` ), and importing it is
refused at line 1: "the column 'meta.region\\u200b' appears twice in the header". Seen on the live
stack: the export API's CSV of such a project, uploaded to a new project, failed with that error and
nothing imported; its JSONL imported.

Real importer for both the origin's files and the copy, real export command."""
import json

import pytest
from django.core.management import call_command

from labeling.items.importer import run_import
from labeling.items.models import Item

pytestmark = pytest.mark.django_db


def _export(tmp_path, fmt):
    out = tmp_path / f"origin.{fmt}"
    call_command("export_labels", "origin", "--format", fmt, "--out", str(out))
    return out


@pytest.mark.parametrize("second_key", ["region\u200b", "region "], ids=["zero-width-space", "trailing-space"])
def test_an_export_csv_with_lookalike_metadata_keys_imports_into_a_new_project(project_factory, tmp_path,
                                                                               second_key):
    origin = project_factory("origin", labels=("praise",), sources=())
    first = tmp_path / "first.csv"
    first.write_text("text,label,region\nwarm welcome at the desk,praise,north\n", encoding="utf-8")
    assert run_import(origin, first).ok
    if second_key.endswith(" "):  # a CSV header is stripped: a JSONL key keeps its space
        second = tmp_path / "second.jsonl"
        second.write_text(json.dumps({"text": "quick answer by phone", "label": "praise", second_key: "south"}) + "\n",
                          encoding="utf-8")
    else:  # a header pasted with a zero-width space keeps it in the key
        second = tmp_path / "second.csv"
        second.write_text(f"text,label,{second_key}\nquick answer by phone,praise,south\n", encoding="utf-8")
    result = run_import(origin, second)
    assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
    assert sorted(Item.objects.filter(project=origin).values_list("metadata", flat=True), key=str) == sorted(
        [{"region": "north"}, {second_key: "south"}], key=str)

    for fmt in ("jsonl", "csv"):
        copy = project_factory(f"copy-{fmt}", labels=("praise",), sources=())
        result = run_import(copy, _export(tmp_path, fmt))
        assert result.ok, (fmt, [(e.line, e.field, e.message) for e in result.errors])
        assert Item.objects.filter(project=copy).count() == 2, fmt
