"""Item browser: the lead's exclude / pin flags, and (PostgreSQL only) the GIN index behind the
browser's full-text search. SQLite has no tsvector: the browser falls back to a contains search
there, so the index is created on PostgreSQL alone."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

# Must compile to the same expression as labeling.items.browse.search_vector() for the planner
# to use the index (tests/test_browse_api.py checks the plan).
INDEX_NAME = "item_text_search"


def _index(apps):
    return GinIndex(SearchVector("text", config="english"), name=INDEX_NAME), apps.get_model("items", "Item")


def add_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    index, item = _index(apps)
    schema_editor.add_index(item, index)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    index, item = _index(apps)
    schema_editor.remove_index(item, index)


class Migration(migrations.Migration):

    dependencies = [
        ('items', '0002_item_lsh'),
    ]

    operations = [
        migrations.AddField(
            model_name='item',
            name='excluded',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='item',
            name='pinned_for_next_wave',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(add_search_index, drop_search_index),
    ]
