"""Item browser: the lead's exclude / pin flags, and (PostgreSQL only) the search document column
and GIN index behind the browser's full-text search. SQLite has no tsvector: the browser falls
back to a contains search there, so column and index exist on PostgreSQL alone (the Item model
does not declare the column; labeling.items.browse reads it by name)."""

from django.db import migrations, models

# PostgreSQL keeps each item's search document (stemmed words) in a generated column, so a query
# never re-parses texts: checking a row costs ~1 µs instead of ~20–40 µs for to_tsvector(), which
# keeps every plan the planner may choose (with or without fresh statistics) cheap. The names are
# shared with labeling.items.browse (the query) and bench/browse_bench.py (bulk loads).
COLUMN = "search_document"
INDEX_NAME = "item_text_search"
ADD_COLUMN_SQL = (
    f"ALTER TABLE items_item ADD COLUMN {COLUMN} tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(text, ''))) STORED"
)
CREATE_INDEX_SQL = f"CREATE INDEX {INDEX_NAME} ON items_item USING gin ({COLUMN})"


def add_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(ADD_COLUMN_SQL)
    schema_editor.execute(CREATE_INDEX_SQL)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
    schema_editor.execute(f"ALTER TABLE items_item DROP COLUMN IF EXISTS {COLUMN}")


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
