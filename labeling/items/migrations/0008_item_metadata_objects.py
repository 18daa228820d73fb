"""Item metadata that is not a JSON object becomes one. Older versions stored what the Django admin
was given (a list, a text, a number, null); the CSV export had no ``meta.<key>`` column for such
metadata, so an export's re-import brought it back as {}. Now JSON null is {} and anything else
{"value": <it>}, which the CSV writes as the column ``meta.value``. 0009 then adds the CHECK
constraint that keeps every item's metadata an object. Going back leaves the objects as they are:
the previous release reads them like any other metadata.

Not atomic: each chunk is read (its rows locked) and rewritten in a transaction of its own, so a
row is locked for its chunk's moment, not for the whole run (over a minute on a large table, in one
transaction). The chunks go forward by id: a rewritten row is not read again. Stopped half-way,
the chunks done stay done and a second run rewrites the rest; the result is the same."""

from django.db import migrations, transaction

from labeling.items.json_object import JsonIsObject, as_object

CHUNK = 1000


def metadata_as_objects(apps, schema_editor):
    alias = schema_editor.connection.alias
    items = apps.get_model("items", "Item").objects.using(alias)
    others = items.exclude(JsonIsObject("metadata")).order_by("pk").only("pk", "metadata")
    last = 0
    while True:
        with transaction.atomic(using=alias):
            # Locked while read: an edit made meanwhile is not overwritten with the value read before it.
            chunk = list(others.filter(pk__gt=last).select_for_update()[:CHUNK])
            for item in chunk:
                item.metadata = as_object(item.metadata)
            items.bulk_update(chunk, ["metadata"])
        if not chunk:
            return
        last = chunk[-1].pk


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("items", "0007_item_search_text")]

    operations = [migrations.RunPython(metadata_as_objects, migrations.RunPython.noop, elidable=True)]
