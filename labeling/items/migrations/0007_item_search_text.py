"""Search that finds what looks alike (PostgreSQL only, like 0003): the search document is built
from the folded text (accents dropped, NFKC, default-ignorable characters such as zero-width
spaces removed; labeling.items.browse.search_form folds a query the same way), and a second
generated column holds that folded text lower-cased, for substring searches (scripts written
without spaces, words no item has), with a trigram index where pg_trgm can be installed.

Both are generated columns: processes still on the previous release insert rows without naming
them. Adding them rewrites items_item once (as 0003 did), under its lock."""

from django.db import migrations, transaction

DOCUMENT = "search_document"
SUBSTRING = "search_text"
INDEX_NAME = "item_text_search"  # the word index of 0003, rebuilt on the new document
SUBSTRING_INDEX_NAME = "item_text_substring"

# The same rules as labeling.items.browse.search_form, frozen here as SQL.
FOLDED = (
    "regexp_replace(normalize(regexp_replace(normalize(COALESCE(text, ''), NFKD), '[\\u0300-\\u036f]', '', 'g'), "
    "NFKC), '[\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u202a-\\u202e"
    "\\u2060-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufff8\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a"
    "\\U000e0000-\\U000e0fff]', '', 'g')"
)
REPLACE_COLUMNS_SQL = (
    f"ALTER TABLE items_item DROP COLUMN {DOCUMENT}, "
    f"ADD COLUMN {DOCUMENT} tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, {FOLDED})) STORED, "
    f"ADD COLUMN {SUBSTRING} text GENERATED ALWAYS AS (lower({FOLDED})) STORED"
)
CREATE_INDEX_SQL = f"CREATE INDEX {INDEX_NAME} ON items_item USING gin ({DOCUMENT})"
CREATE_SUBSTRING_INDEX_SQL = f"CREATE INDEX {SUBSTRING_INDEX_NAME} ON items_item USING gin ({SUBSTRING} gin_trgm_ops)"

# 0003's document, for going back.
OLD_DOCUMENT_SQL = (
    f"ALTER TABLE items_item DROP COLUMN {SUBSTRING}, DROP COLUMN {DOCUMENT}, "
    f"ADD COLUMN {DOCUMENT} tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(text, ''))) STORED"
)


def trigram_available(schema_editor) -> bool:
    """pg_trgm installed, or installed now (a trusted extension: the database owner may create
    it). Without it substring searches read the column row by row."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT installed_version IS NOT NULL, true FROM pg_available_extensions WHERE name = 'pg_trgm'")
        row = cursor.fetchone()
        if row is None:
            return False
        if row[0]:
            return True
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception:  # noqa: BLE001 - no privilege: the search works without the index
            return False
        return True


def fold_search_columns(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(REPLACE_COLUMNS_SQL)
    schema_editor.execute(CREATE_INDEX_SQL)
    if trigram_available(schema_editor):
        schema_editor.execute(CREATE_SUBSTRING_INDEX_SQL)


def unfold_search_columns(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(OLD_DOCUMENT_SQL)  # drops both indexes with their columns
    schema_editor.execute(CREATE_INDEX_SQL)


class Migration(migrations.Migration):

    dependencies = [
        ('items', '0006_importbatch_waiting'),
    ]

    operations = [
        migrations.RunPython(fold_search_columns, unfold_search_columns),
    ]
