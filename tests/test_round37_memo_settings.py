"""The per-process memory settings that docs/loop.md and the README name are environment variables
like every other (a reader found both read only from the settings module: set in the environment
they changed nothing, and a wrong value started the process)."""
import subprocess
import sys
from pathlib import Path

from .test_settings_validation_startup import clean_env

ROOT = Path(__file__).resolve().parent.parent
READ = ("import django; django.setup(); from labeling.modeling import embedding_store as e; "
        "print(e.memo.limit, e.pool_memo_limit())")


def python(tmp_path, code: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(tmp_path, **variables),
                          capture_output=True, text=True, timeout=120)


def test_the_environment_sets_both_limits(tmp_path):
    result = python(tmp_path, READ, LONGTAIL_EMBEDDING_MEMO_MAX="5", LONGTAIL_POOL_MEMO_PROJECTS="7")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["5", "7"]


def test_unset_a_web_process_keeps_no_pool(tmp_path):
    result = python(tmp_path, READ)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["200000", "0"]


def test_a_wrong_value_stops_startup_naming_it(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env=clean_env(tmp_path, LONGTAIL_EMBEDDING_MEMO_MAX="abc"), timeout=120)
    assert result.returncode != 0
    assert "LONGTAIL_EMBEDDING_MEMO_MAX must be a whole number, got 'abc'" in result.stderr
