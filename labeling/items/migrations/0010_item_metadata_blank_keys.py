"""Item metadata keys that are empty or only whitespace get a name. Older importers stored an
unnamed CSV column (pandas writes its index so, first; a trailing comma in a header makes another)
under the key "", which today's export cannot write (its column would be "meta.", read back as no
key) and today's importer refuses: an upgraded project's export did not re-import. Such a key now
becomes ``column_<n>``, the name today's importer gives an unnamed column (its place in the file is
not known: the first n whose name is free in the item's metadata). Going back leaves the names."""

from django.db import migrations

CHUNK = 2000


def named(metadata: dict) -> dict:
    """``metadata`` with each blank key renamed to the first free ``column_<n>``, in key order."""
    out = {key: value for key, value in metadata.items() if not (isinstance(key, str) and not key.strip())}
    n = 1
    for key, value in metadata.items():
        if isinstance(key, str) and not key.strip():
            while f"column_{n}" in out or f"column_{n}" in metadata:
                n += 1
            out[f"column_{n}"] = value
    return out


def name_blank_keys(apps, schema_editor):
    Item = apps.get_model("items", "Item")
    items = Item.objects.using(schema_editor.connection.alias).exclude(metadata={}).order_by("pk")
    last = 0
    # Every item with metadata is read (a key of spaces has no portable SQL test); only those with
    # a blank key are written.
    while chunk := list(items.filter(pk__gt=last).only("pk", "metadata")[:CHUNK]):
        last = chunk[-1].pk
        changed = []
        for item in chunk:
            if isinstance(item.metadata, dict) and any(isinstance(k, str) and not k.strip() for k in item.metadata):
                item.metadata = named(item.metadata)
                changed.append(item)
        if changed:
            Item.objects.using(schema_editor.connection.alias).bulk_update(changed, ["metadata"])


class Migration(migrations.Migration):
    dependencies = [("items", "0009_item_metadata_is_object")]

    operations = [migrations.RunPython(name_blank_keys, migrations.RunPython.noop, elidable=True)]
