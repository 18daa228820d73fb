"""A script run in a fresh interpreter against a migrated SQLite database of its own, as the demo
runs (``make demo``: no DATABASE_URL, so SQLite with its settings): for the tests of what the demo
does while one write holds SQLite's only write lock. Holds no tests."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_on_sqlite_demo(tmp: Path, script: str, *args: str, **settings_env: str) -> dict:
    """Migrate ``tmp``/demo.sqlite3, run ``script`` with ``args`` against it, and return the JSON
    object its last line of output prints."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp / 'demo.sqlite3'}",
               LONGTAIL_VAR_DIR=str(tmp), HF_HUB_OFFLINE="1", **settings_env)
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], **run)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    result = subprocess.run([sys.executable, "-c", script, *args], **run)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
