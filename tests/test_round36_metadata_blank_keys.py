"""Items migration 0010: a metadata key that is empty or only whitespace, as older importers stored
an unnamed CSV column (pandas' index), is renamed to ``column_<n>``, the name today's importer gives
such a column. Before, the upgraded project's export could not be imported again: today's importer
refuses the blank key (its CSV column "meta." names none), so the CSV and JSONL round trips failed."""
import json

import pytest
from django.core.management import call_command

from labeling.items.importer import run_import
from labeling.items.models import Item
from tests.migration_steps import migration_step

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = "0009_item_metadata_is_object", "0010_item_metadata_blank_keys"
STORED = {
    "pandas index": ({"": "0", "channel": "web"}, {"column_1": "0", "channel": "web"}),
    "trailing comma": ({" ": "extra", "column_1": "taken"}, {"column_1": "taken", "column_2": "extra"}),
    "two blanks": ({"": "a", "\t": "b"}, {"column_1": "a", "column_2": "b"}),
    "named only": ({"channel": "mail"}, {"channel": "mail"}),
    "nothing": ({}, {}),
}


@pytest.fixture
def origin(project_factory, tmp_path):
    origin = project_factory("origin", labels=("praise",), sources=())
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"text": f"item with {what}", "label": "praise"}) + "\n" for what in STORED),
                    encoding="utf-8")
    assert run_import(origin, path).ok
    return origin


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_blank_metadata_keys_are_named_and_the_export_imports_again(origin, project_factory, tmp_path, fmt):
    with migration_step("items", BEFORE, AFTER) as step:
        OldItem = step.old_apps.get_model("items", "Item")
        for what, (before, _) in STORED.items():  # as older importers stored them
            OldItem.objects.filter(project_id=origin.pk, text=f"item with {what}").update(metadata=before)
        NewItem = step.migrate().get_model("items", "Item")
        after = dict(NewItem.objects.filter(project_id=origin.pk).values_list("text", "metadata"))
    assert after == {f"item with {what}": named for what, (_, named) in STORED.items()}

    out = tmp_path / f"origin.{fmt}"
    call_command("export_labels", "origin", "--format", fmt, "--out", str(out))
    copy = project_factory("copy", labels=("praise",), sources=())
    result = run_import(copy, out)
    assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
    again = dict(Item.objects.filter(project=copy).values_list("text", "metadata"))
    assert again == after  # every metadata value here is text, so the CSV keeps it as it is
