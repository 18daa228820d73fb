"""Search that ignores case where lower() does not (PostgreSQL only, like 0007): both search
columns now also spell Greek final sigma "ς" as "σ" and German "ß" and capital "ẞ" as "ss", the case
folding that PostgreSQL's letter-by-letter lower() lacks (lower("ΚΟΣΜΟΣ") is "κοσμοσ", never the
"κοσμος" of "κόσμος"; lower("STRASSE") is "strasse", never "straße"). learner.text_fold.search_form
folds a query (and the text a keyword rule matches) the same way.

Both columns stay generated (processes still on the previous release insert rows without naming
them), so PostgreSQL 15 can only drop and add them again: this rewrites items_item once, under its
lock, and rebuilds the word index and the trigram index (docs/operations.md, "Upgrades", gives the
time it takes)."""

import importlib

from django.db import migrations

# 0007's columns, index names and fold, frozen there; this migration wraps that fold.
SEARCH = importlib.import_module("labeling.items.migrations.0007_item_search_text")

# The same rules as learner.text_fold.CASE_FOLDS, frozen here as SQL (after the fold of 0007, as
# search_form maps them after NFKC and the removals).
FOLDED = f"translate(regexp_replace({SEARCH.FOLDED}, '[\u00df\u1e9e]', 'ss', 'g'), '\u03c2', '\u03c3')"


def replace_columns_sql(folded: str) -> str:
    return (
        f"ALTER TABLE items_item DROP COLUMN {SEARCH.SUBSTRING}, DROP COLUMN {SEARCH.DOCUMENT}, "
        f"ADD COLUMN {SEARCH.DOCUMENT} tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, {folded})) STORED, "
        f"ADD COLUMN {SEARCH.SUBSTRING} text GENERATED ALWAYS AS (lower({folded})) STORED"
    )


def rebuild(schema_editor, folded: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(replace_columns_sql(folded))  # drops both indexes with their columns
    schema_editor.execute(SEARCH.CREATE_INDEX_SQL)
    if SEARCH.trigram_available(schema_editor):
        schema_editor.execute(SEARCH.CREATE_SUBSTRING_INDEX_SQL)


def fold_case(apps, schema_editor):
    rebuild(schema_editor, FOLDED)


def unfold_case(apps, schema_editor):
    rebuild(schema_editor, SEARCH.FOLDED)


class Migration(migrations.Migration):

    dependencies = [
        ("items", "0010_item_metadata_blank_keys"),
    ]

    operations = [
        migrations.RunPython(fold_case, unfold_case),
    ]
