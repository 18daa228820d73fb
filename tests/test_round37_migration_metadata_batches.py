"""Items migration 0008 (metadata that is not a JSON object becomes one) in chunks, each in a
transaction of its own. Before, the whole run was one transaction: every row it rewrote stayed
locked until the last chunk was done (a reader saw over a minute on a large table).

- The result is the one the single transaction gave: each item's metadata the object that keeps
  what was stored, over several chunks of mixed rows.
- While a late chunk waits (here on a row another connection keeps locked), the first chunks are
  committed and their rows free: another connection sees them rewritten and can lock them. Before,
  they were neither."""
import threading
import time

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import JSONField, Value

from tests.migration_steps import migration_step

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = "0007_item_search_text", "0008_item_metadata_objects"
CHUNK = 1000  # the migration's
STORED = [["x", 2], "a note", 7, 2.5, True, False, None, {"channel": "web"}, {}, [], "", {"value": 1}, [{"a": 1}]]
# What each becomes, written out (the docs' rule: JSON null is {}, an object stays, anything else is
# kept under "value"), not recomputed with the migration's own function.
OBJECTS = [{"value": ["x", 2]}, {"value": "a note"}, {"value": 7}, {"value": 2.5}, {"value": True},
           {"value": False}, {}, {"channel": "web"}, {}, {"value": []}, {"value": ""}, {"value": 1},
           {"value": [{"a": 1}]}]


def _fill(step, project, values):
    """Items with ``values`` as their metadata, stored as older versions did (None: JSON null)."""
    OldItem = step.old_apps.get_model("items", "Item")
    OldItem.objects.bulk_create(
        [OldItem(project_id=project.pk, text=f"item {i}", text_hash=f"{i:064x}", metadata={}) for i in range(len(values))],
        batch_size=1000)
    pks = list(OldItem.objects.filter(project_id=project.pk).order_by("pk").values_list("pk", flat=True))
    for value in {repr(value): value for value in values}.values():  # one UPDATE per distinct value
        stored = Value(None, output_field=JSONField()) if value is None else value
        same = [pk for pk, v in zip(pks, values, strict=True) if v == value and type(v) is type(value)]
        OldItem.objects.filter(pk__in=same).update(metadata=stored)
    stored = dict(OldItem.objects.filter(project_id=project.pk).values_list("pk", "metadata"))
    assert stored == dict(zip(pks, values, strict=True))
    return pks


def test_the_chunked_run_gives_the_single_transactions_result(project_factory):
    project = project_factory("meta-chunks", labels=("praise",), sources=())
    picks = [i * 7 % len(STORED) for i in range(2 * CHUNK + 537)]  # across three chunks
    values = [STORED[i] for i in picks]
    with migration_step("items", BEFORE, AFTER) as step:
        pks = _fill(step, project, values)
        NewItem = step.migrate().get_model("items", "Item")
        after = dict(NewItem.objects.filter(project_id=project.pk).values_list("pk", "metadata"))
    assert after == {pk: OBJECTS[i] for pk, i in zip(pks, picks, strict=True)}
    assert all(isinstance(metadata, dict) for metadata in after.values())


@pytest.mark.usefixtures("postgres_only")
def test_a_chunk_done_is_committed_and_its_rows_free_while_the_run_goes_on(project_factory):
    project = project_factory("meta-locks", labels=("praise",), sources=())
    values = ["a note"] * (3 * CHUNK)
    with migration_step("items", BEFORE, AFTER) as step:
        pks = _fill(step, project, values)
        holder = connections.create_connection(DEFAULT_DB_ALIAS)  # another writer, holding the last row
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM items_item WHERE id = %s FOR UPDATE", [pks[-1]])
        errors = []

        def migrate():
            try:
                step.migrate()
            except Exception as exc:  # noqa: BLE001 - reported by the test's thread
                errors.append(exc)
            finally:
                connection.close()

        run = threading.Thread(target=migrate)
        run.start()
        try:
            first_rewritten, deadline = False, time.monotonic() + 30
            while not first_rewritten and time.monotonic() < deadline and run.is_alive():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT jsonb_typeof(metadata) FROM items_item WHERE id = %s", [pks[0]])
                    first_rewritten = cursor.fetchone()[0] == "object"
                time.sleep(0.2)
            assert run.is_alive(), errors  # still waiting on the held row
            assert first_rewritten, "the first chunk is not committed while the run goes on"
            with transaction.atomic(), connection.cursor() as cursor:  # NOWAIT: an error were it locked
                cursor.execute("SELECT id FROM items_item WHERE id = %s FOR UPDATE NOWAIT", [pks[0]])
        finally:
            holder.rollback()
            holder.close()
            run.join(120)
        assert not run.is_alive() and not errors, errors
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM items_item WHERE project_id = %s AND jsonb_typeof(metadata) = 'object'",
                           [project.pk])
            assert cursor.fetchone()[0] == len(pks)
