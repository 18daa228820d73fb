"""The demo's SQLite: two asks of one annotator at the same moment get one batch there too. The
advisory lock (leasing.take_lease_turn) is PostgreSQL's; on SQLite the lease's transaction begins
IMMEDIATE (settings), so the second ask waits for the first's commit and is handed its batch back.
A real database file, two threads with their own connections, in a subprocess (the database is
chosen from DATABASE_URL when the settings are imported)."""
import textwrap

from .sqlite_demo import run_on_sqlite_demo

SCRIPT = textwrap.dedent("""
    import json, threading, time
    import django
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from labeling.annotations import leasing
    from labeling.projects.models import Label, Membership, Project, Source
    from tests.test_annotation_helpers import make_open_wave

    assert connection.vendor == "sqlite"
    project = Project.objects.create(slug="turns37s", name="Turns37s", batch_size=2)
    Label.objects.create(project=project, name="billing", hotkey="1")
    Source.objects.create(project=project, name="email", quota=1.0)
    make_open_wave(project, 6)
    ann = get_user_model().objects.create_user("ann37t", "ann37t@example.org", "pw-Longtail-123")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    connection.close()
    written, out = threading.Event(), {}

    def hold(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "annotations_assignment"'):
            written.set()
            time.sleep(1.0)  # the other tab asks meanwhile
        return result

    def ask(name, paused):
        try:
            if paused:
                with connection.execute_wrapper(hold):
                    batch = leasing.lease_batch(project, ann)
            else:
                batch = leasing.lease_batch(project, ann)
            out[name] = {"resumed": batch.resumed, "ids": [a.pk for a in batch.assignments]}
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            connection.close()

    first = threading.Thread(target=ask, args=("first", True))
    first.start()
    assert written.wait(10)
    second = threading.Thread(target=ask, args=("second", False))
    second.start()
    first.join()
    second.join()
    print(json.dumps(out))
""")


def test_on_sqlite_two_asks_of_one_annotator_at_once_get_one_batch(tmp_path):
    out = run_on_sqlite_demo(tmp_path, SCRIPT)
    assert "error" not in out["first"] and "error" not in out["second"], out
    assert not out["first"]["resumed"] and len(out["first"]["ids"]) == 2
    assert out["second"] == {"resumed": True, "ids": out["first"]["ids"]}, out
