"""The demo's SQLite: a change to a project's sources while an import writes to it waits a bounded
time (LONGTAIL_SOURCE_LOCK_WAIT_SECONDS) and is then refused with the PostgreSQL path's message,
nothing changed (import_lock.sources_change_atomic). SQLite has no row locks: its transactions take
the database's one write lock at BEGIN, which the import's write holds until it commits, so the
change waited for the whole import and past the busy timeout (30 s) failed with "database is
locked", a 500 on the sources page. A real database file, the import in one thread and the change in
another; a subprocess, because the database is chosen from DATABASE_URL at settings import."""
import textwrap

import pytest

from tests.sqlite_demo import run_on_sqlite_demo

WAIT = 1.0
HOLD = 6.0  # seconds the import's write goes on after its first chunk: a large file
BUSY = "an import is writing to this project; try again when it ends"

SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    import django
    django.setup()
    from django.db import connection, transaction
    from labeling.items.import_lock import lock_sources_for_change, sources_change_atomic
    from labeling.items.importer import run_import
    from labeling.items.models import Item
    from labeling.projects import services
    from labeling.projects.models import Label, Project, Source

    HOLD, PATH = float(sys.argv[1]), sys.argv[2]
    assert connection.vendor == "sqlite"
    project = Project.objects.create(slug="demo", name="Demo")
    Label.objects.create(project=project, name="ham", hotkey="1")
    email = Source.objects.create(project=project, name="email", quota=0.5)
    chat = Source.objects.create(project=project, name="chat", quota=0.5)
    connection.close()
    with open(PATH, "w") as f:
        f.write("text,source\\n" + "".join(f"mail {i} about order {i * 7919 % 100003},email\\n" for i in range(6000)))

    def change(seen):
        # what the API's PUT does: only chat, at quota 1 (email removed)
        started = time.monotonic()
        try:
            with sources_change_atomic(project):
                lock_sources_for_change(project)
                services.replace_sources(project, [{"id": chat.pk, "name": "chat", "quota": 1.0}])
            seen["outcome"] = "saved"
        except Exception as exc:
            seen["outcome"] = f"{type(exc).__name__}: {getattr(exc, 'messages', [str(exc)])[0]}"
        finally:
            seen["took"] = time.monotonic() - started
            seen["while_writing"] = "import_done" not in seen
            connection.close()

    def sources():
        return sorted(Source.objects.filter(project=project).values_list("name", "quota"))

    out = {}
    # 1. an import of the project is writing
    seen = {}
    def progress(phase, fraction, counts):
        if phase == "write" and counts.get("rows_imported") and "thread" not in seen:
            seen["thread"] = threading.Thread(target=change, args=(seen,))
            seen["thread"].start()
            time.sleep(HOLD)
    result = run_import(project, PATH, progress=progress)
    seen["import_done"] = True
    seen.pop("thread").join()
    out["import"] = {**seen, "ok": result.ok, "rows": result.rows_imported, "sources": sources(),
                     "email_items": Item.objects.filter(project=project, source__name="email").count()}
    connection.close()

    # 2. another writer (not an import) holds the database past the bound: the change waits its turn
    Source.objects.create(project=project, name="web", quota=0.0)
    held, seen = threading.Event(), {}
    def writer():
        with transaction.atomic():
            Project.objects.filter(pk=project.pk).update(description="busy")
            held.set()
            time.sleep(HOLD / 2)
        connection.close()
    other = threading.Thread(target=writer)
    other.start()
    held.wait()
    web = Source.objects.get(project=project, name="web")
    chat_thread = threading.Thread(target=lambda: _rename(seen, web))
    def _rename(seen, web):
        started = time.monotonic()
        try:
            with sources_change_atomic(project):
                lock_sources_for_change(project)
                services.replace_sources(project, [{"id": chat.pk, "name": "chat", "quota": 0.5},
                                                   {"id": email.pk, "name": "email", "quota": 0.5},
                                                   {"id": web.pk, "name": "site", "quota": 0.0}])
            seen["outcome"] = "saved"
        except Exception as exc:
            seen["outcome"] = f"{type(exc).__name__}: {exc}"
        finally:
            seen["took"] = time.monotonic() - started
            connection.close()
    chat_thread.start()
    chat_thread.join()
    other.join()
    out["other_writer"] = {**seen, "sources": sources()}
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sqlite_source_lock")
    return run_on_sqlite_demo(tmp, SCRIPT, str(HOLD), str(tmp / "many.csv"),
                              LONGTAIL_SOURCE_LOCK_WAIT_SECONDS=str(WAIT))


def test_a_change_during_an_import_waits_the_bound_then_is_refused_with_the_message(outcome):
    seen = outcome["import"]
    assert seen["outcome"] == f"SourcesBusy: {BUSY}", seen
    assert seen["while_writing"], "the change waited for the whole import"
    assert WAIT * 0.9 <= seen["took"] < WAIT + 3, seen["took"]
    # nothing changed, and the import wrote all its rows
    assert seen["sources"] == [["chat", 0.5], ["email", 0.5]]
    assert seen["ok"] and seen["rows"] == 6000 and seen["email_items"] == 6000


def test_a_change_behind_another_writer_waits_its_turn_and_saves(outcome):
    seen = outcome["other_writer"]
    assert seen["outcome"] == "saved", seen
    assert seen["took"] >= WAIT  # past the bound: no import, so not refused
    assert seen["sources"] == [["chat", 0.5], ["email", 0.5], ["site", 0.0]]
