"""The demo's SQLite: an ``import_items`` run from a shell (another process) takes turns with an
import the server is running, instead of both validating against a project neither has written
yet; the waiting one says which import it waits for. Two real processes on one database file."""
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from labeling.items.models import ImportBatch, Item

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys, django
django.setup()
from labeling.items.importer import project_imports_locked
from labeling.items.models import ImportBatch
from labeling.projects.models import Project
project = Project.objects.get(slug="demo")
ImportBatch.objects.create(project=project, filename="server.csv", state=ImportBatch.RUNNING)
with project_imports_locked(project):
    print("held", flush=True)
    sys.stdin.readline()
"""

SETUP = """
import django
django.setup()
from labeling.projects.models import Label, Project, Source
project = Project.objects.create(slug="demo", name="Demo")
Label.objects.create(project=project, name="ham", hotkey="1")
Source.objects.create(project=project, name="web", quota=1.0)
"""


def test_an_import_from_a_shell_waits_for_the_servers_import_and_says_so(tmp_path):
    database = tmp_path / "demo.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "DJANGO_SETTINGS_MODULE": "config.settings",
           "LONGTAIL_VAR_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("REDIS_URL", None)
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], **run).returncode == 0
    assert subprocess.run([sys.executable, "-c", SETUP], **run).returncode == 0
    data = tmp_path / "tickets.csv"
    data.write_text("text,label\n" + "".join(f"ticket {i} about order {i * 37},ham\n" for i in range(20)))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    importer = None
    try:
        assert holder.stdout.readline().strip() == "held"
        importer = subprocess.Popen([sys.executable, "manage.py", "import_items", "demo", str(data)], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiting = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not waiting:
            time.sleep(0.3)
            with sqlite3.connect(database, timeout=30) as db:
                row = db.execute(f"SELECT waiting FROM {ImportBatch._meta.db_table} WHERE filename = 'tickets.csv'").fetchone()
            waiting = row[0] if row else ""
        assert waiting == ("waiting for the import of server.csv into this project to end: imports of one project "
                           "run one after the other")
        assert importer.poll() is None  # still waiting
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(60) == 0
        _, err = importer.communicate(timeout=120)
        assert importer.returncode == 0, err
        # the terminal says why the bar stood at 0 % (the re-verification audit saw only "validate 0%")
        assert ("Waiting for the import of server.csv into this project to end: imports of one project run one "
                "after the other.") in err
        with sqlite3.connect(database, timeout=30) as db:
            assert db.execute(f"SELECT COUNT(*) FROM {Item._meta.db_table}").fetchone()[0] == 20
    finally:
        for process in (holder, importer):
            if process is not None and process.poll() is None:
                process.kill()
