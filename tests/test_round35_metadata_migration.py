"""Items migration 0008: metadata that older versions stored without being a JSON object (a list, a
text, a number, true/false, null: the Django admin took any JSON before it checked) becomes one,
{"value": <it>} (null: {}), and 0009's CHECK constraint keeps it so. Before, the CSV export had no
meta.<key> column for such metadata and its re-import gave the item {}: the value was lost on the
round trip. Now it goes out as meta.value and comes back (as text, like every CSV metadata value;
the JSONL keeps its type)."""
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import JSONField, Value

from labeling.items.importer import run_import
from labeling.items.models import Item
from tests.migration_steps import migration_step

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = "0007_item_search_text", "0009_item_metadata_is_object"
STORED = {"a list": ["x", 2], "a text": "a note", "a number": 7, "a flag": True, "a null": None,
          "an object": {"channel": "web"}, "nothing": {}}


def _export(tmp_path, slug, fmt):
    out = tmp_path / f"{slug}.{fmt}"
    call_command("export_labels", slug, "--format", fmt, "--out", str(out))
    return out


def _imported(project_factory, slug, path):
    copy = project_factory(slug, labels=("praise",), sources=())
    result = run_import(copy, path)
    assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
    return {item.text: item.metadata for item in Item.objects.filter(project=copy)}


@pytest.fixture
def origin(project_factory, tmp_path):
    origin = project_factory("origin", labels=("praise",), sources=())
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"text": f"item with {what}", "label": "praise"}) + "\n" for what in STORED),
                    encoding="utf-8")
    assert run_import(origin, path).ok
    return origin


def test_stored_metadata_that_is_not_an_object_becomes_one_and_survives_a_csv_round_trip(
        origin, project_factory, tmp_path):
    with migration_step("items", BEFORE, AFTER) as step:
        OldItem = step.old_apps.get_model("items", "Item")
        for what, value in STORED.items():  # as older versions stored them (None: JSON null, not SQL NULL)
            stored = Value(None, output_field=JSONField()) if value is None else value
            OldItem.objects.filter(project_id=origin.pk, text=f"item with {what}").update(metadata=stored)
        assert dict(OldItem.objects.filter(project_id=origin.pk).values_list("text", "metadata")) == {
            f"item with {what}": value for what, value in STORED.items()}

        NewItem = step.migrate().get_model("items", "Item")
        after = dict(NewItem.objects.filter(project_id=origin.pk).values_list("text", "metadata"))

    assert after == {"item with a list": {"value": ["x", 2]}, "item with a text": {"value": "a note"},
                     "item with a number": {"value": 7}, "item with a flag": {"value": True},
                     "item with a null": {}, "item with an object": {"channel": "web"}, "item with nothing": {}}

    # CSV: every value has its column and comes back, as text (a CSV has no types)
    header = _export(tmp_path, "origin", "csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith(",meta.channel,meta.value")
    assert _imported(project_factory, "from-csv", tmp_path / "origin.csv") == {
        "item with a list": {"value": '["x", 2]'}, "item with a text": {"value": "a note"},
        "item with a number": {"value": "7"}, "item with a flag": {"value": "true"},
        "item with a null": {}, "item with an object": {"channel": "web"}, "item with nothing": {}}
    # JSONL: with its types, and no row refused as "not an object" any more
    assert _imported(project_factory, "from-jsonl", _export(tmp_path, "origin", "jsonl")) == after


def test_going_back_keeps_the_objects_and_forward_again_leaves_them(origin):
    """0008 cannot tell a {"value": …} it wrote from metadata an import wrote: going back leaves both
    as they are (the previous release reads them like any metadata), and a second run changes nothing."""
    with migration_step("items", BEFORE, AFTER) as step:
        OldItem = step.old_apps.get_model("items", "Item")
        OldItem.objects.filter(project_id=origin.pk, text="item with a text").update(metadata="a note")
        step.migrate()
        MigrationExecutor(connection).migrate([("items", BEFORE)])
        assert OldItem.objects.get(project_id=origin.pk, text="item with a text").metadata == {"value": "a note"}
        OldItem.objects.filter(project_id=origin.pk, text="item with a list").update(metadata=[1])
        step.migrate()
    assert dict(Item.objects.filter(project=origin, text__in=["item with a text", "item with a list"])
                .values_list("text", "metadata")) == {"item with a text": {"value": "a note"},
                                                      "item with a list": {"value": [1]}}
