"""The rows of an import are committed with the batch marked done; the batch's last update (errors,
progress, finished time) comes after. When that update fails (the database refuses it, or finds the
batch changed), the rows are in the project all the same, and the result must say so: it said the
import "stopped and wrote nothing" (or "failed and nothing was imported") with rows_imported 0.
The failures are made by PostgreSQL itself, with a trigger on the batches table."""
import pytest
from django.db import connection

from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = ImportBatch._meta.db_table


@pytest.fixture
def refuse_final_update(request, postgres_only):
    """A trigger on the batches table that refuses (``raise``) or silently skips (``skip``) every
    update of a batch already done: the update that follows the write's commit."""
    action = "RAISE EXCEPTION 'batch record is read-only now'" if request.param == "raise" else "RETURN NULL"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE FUNCTION round34_refuse() RETURNS trigger AS $$ BEGIN {action}; END $$ LANGUAGE plpgsql")
        cursor.execute(f"CREATE TRIGGER round34_refuse BEFORE UPDATE ON {TABLE} FOR EACH ROW "
                       "WHEN (OLD.state = 'done') EXECUTE FUNCTION round34_refuse()")
    yield request.param
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS round34_refuse ON {TABLE}")
        cursor.execute("DROP FUNCTION IF EXISTS round34_refuse()")


@pytest.mark.parametrize("refuse_final_update", ["raise", "skip"], indirect=True)
def test_a_failed_final_update_still_reports_the_rows_written(project_factory, tmp_path, refuse_final_update):
    project = project_factory("finish", labels=("billing",), sources=())
    path = tmp_path / "rows.csv"
    path.write_text("text,label\nfirst,billing\nsecond,billing\nthird,\n", encoding="utf-8")
    result = import_path(project, path)
    assert Item.objects.filter(project=project).count() == 3
    assert result.rows_imported == 3
    stored = ImportBatch.objects.get(pk=result.batch.pk)
    assert stored.state == ImportBatch.DONE and stored.rows_imported == 3
    assert result.ok
    said = " ".join(error.message for error in result.errors)
    assert "wrote nothing" not in said and "nothing was imported" not in said
    assert "3 rows were imported" in said, said
