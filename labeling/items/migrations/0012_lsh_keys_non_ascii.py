"""Near-duplicate band keys of items whose text is not plain ASCII, rebuilt with the shingles of this
release (labeling.items.dedup: code-point 4-grams, emoji and vowel signs kept). Keys stored before
were cut from UTF-8 bytes, so no key of such an item matched its near duplicates' keys now: a later
import grouped a near duplicate of an older Greek, Hindi or Chinese item as new. An ASCII text's keys
did not change and are left alone. The rebuilt key is of the whole text: one stored under the text
without a recurring boilerplate tail (which depends on what the import had seen) is replaced by it,
and is still found by a copy that has the tail. Going back leaves the keys (the previous release
then misses these items as this one missed them before).

Not atomic, in chunks by item id, like 0008: a chunk's rows are locked for its moment only."""

from django.db import migrations, transaction

from labeling.items.dedup import band_keys, features, signatures

CHUNK = 1000


def rebuild_non_ascii_keys(apps, schema_editor):
    alias = schema_editor.connection.alias
    rows = apps.get_model("items", "ItemLsh").objects.using(alias)
    last = 0
    while True:
        with transaction.atomic(using=alias):
            chunk = list(rows.filter(item_id__gt=last).order_by("item_id").select_for_update(of=("self",))
                         .select_related("item").only("item_id", "item__text")[:CHUNK])
            if not chunk:
                return
            last = chunk[-1].item_id
            redo = [row for row in chunk if not row.item.text.isascii()]
            if redo:
                keys = band_keys(signatures([f.shingles for f in features([row.item.text for row in redo])]))
                for row, row_keys in zip(redo, keys.tolist(), strict=True):
                    for band, key in enumerate(row_keys):
                        setattr(row, f"b{band}", key)
                rows.bulk_update(redo, [f"b{band}" for band in range(keys.shape[1])])


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("items", "0011_item_search_case_fold")]

    operations = [migrations.RunPython(rebuild_non_ascii_keys, migrations.RunPython.noop, elidable=True)]
