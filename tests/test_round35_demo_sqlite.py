"""The demo's SQLite database under concurrent writers (make demo: SQLite, eager Celery).

Two requests that each read and then write inside a transaction, at the same time, are what
leases and answers do. With SQLite's deferred transactions (Django's default) the second writer
fails at once with "database is locked" (its busy timeout is never consulted: it holds a read lock
the first writer waits on); the settings open SQLite transactions IMMEDIATE, so it waits its turn.
The script runs in a subprocess because the database is chosen from DATABASE_URL at settings import.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import threading, time
    import django
    django.setup()
    from django.conf import settings
    from django.db import connection, transaction

    assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"), settings.DATABASES["default"]["ENGINE"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lease (id INTEGER PRIMARY KEY, who TEXT)")
    connection.close()

    errors, done = [], []

    def lease(who):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM lease")  # read first, as a lease does
                    time.sleep(0.5)  # the other request reads meanwhile
                    cursor.execute("INSERT INTO lease (who) VALUES (%s)", [who])
            done.append(who)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=lease, args=(who,)) for who in ("annotator", "lead")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lease")
        stored = cursor.fetchone()[0]
    print(f"done={len(done)} stored={stored} errors={errors}")
""")


def test_two_sqlite_writers_that_read_first_both_succeed(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
               LONGTAIL_VAR_DIR=str(tmp_path), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "done=2 stored=2 errors=[]", result.stdout
