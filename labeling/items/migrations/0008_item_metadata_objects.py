"""Item metadata that is not a JSON object becomes one. Older versions stored what the Django admin
was given (a list, a text, a number, null); the CSV export had no ``meta.<key>`` column for such
metadata, so an export's re-import brought it back as {}. Now JSON null is {} and anything else
{"value": <it>}, which the CSV writes as the column ``meta.value``. 0009 then adds the CHECK
constraint that keeps every item's metadata an object. Going back leaves the objects as they are:
the previous release reads them like any other metadata."""

from django.db import migrations

from labeling.items.json_object import JsonIsObject, as_object

CHUNK = 1000


def metadata_as_objects(apps, schema_editor):
    Item = apps.get_model("items", "Item")
    others = Item.objects.using(schema_editor.connection.alias).exclude(JsonIsObject("metadata"))
    while chunk := list(others.order_by("pk").only("pk", "metadata")[:CHUNK]):
        for item in chunk:
            item.metadata = as_object(item.metadata)
        Item.objects.using(schema_editor.connection.alias).bulk_update(chunk, ["metadata"])


class Migration(migrations.Migration):
    dependencies = [("items", "0007_item_search_text")]

    operations = [migrations.RunPython(metadata_as_objects, migrations.RunPython.noop, elidable=True)]
