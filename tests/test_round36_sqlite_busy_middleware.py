"""config.database_busy answers only SQLite's "database is locked" (503, Retry-After, the reason):
any other database error, and every error on PostgreSQL, is left to Django as before. The whole path
through a real import is tests/test_round36_sqlite_busy_import.py."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from django.db import OperationalError

from config.database_busy import DatabaseBusyMiddleware

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import json
    import django
    django.setup()
    from django.db import OperationalError, connection
    from django.test import RequestFactory
    from config.database_busy import DatabaseBusyMiddleware

    assert connection.vendor == "sqlite"
    middleware, factory = DatabaseBusyMiddleware(lambda request: None), RequestFactory()
    out = {}
    for name, path, message in [("api", "/api/projects/demo/annotations/", "database is locked"),
                                ("page", "/p/demo/settings/rules/", "database is locked"),
                                ("other_error", "/api/projects/demo/annotations/", "no such table: projects_rule")]:
        response = middleware.process_exception(factory.post(path), OperationalError(message))
        out[name] = None if response is None else {
            "status": response.status_code, "type": response["Content-Type"],
            "retry_after": response.get("Retry-After"), "body": response.content.decode()}
    print(json.dumps(out))
""")


def test_on_postgresql_a_database_error_is_left_to_django(postgres_only, rf):
    middleware = DatabaseBusyMiddleware(lambda request: None)
    assert middleware.process_exception(rf.post("/api/projects/demo/annotations/"),
                                        OperationalError("database is locked")) is None


def test_on_sqlite_only_the_locked_database_answers_503(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
               LONGTAIL_VAR_DIR=str(tmp_path), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["other_error"] is None  # Django's 500, with its traceback in the log
    api, page = out["api"], out["page"]
    assert (api["status"], api["type"]) == (503, "application/json")
    assert "busy with another write" in json.loads(api["body"])["detail"]
    assert "nothing was saved" in json.loads(api["body"])["detail"]
    assert (page["status"], page["type"].split(";")[0]) == (503, "text/html")
    assert 'id="database-busy"' in page["body"] and "busy with another write" in page["body"]
    assert "/static/" not in page["body"]  # stands alone, as the CSRF page
    assert int(api["retry_after"]) > 0 and int(page["retry_after"]) > 0
