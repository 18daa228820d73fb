"""A refused setting stops every process with its one-line message and no traceback (operations
audit): `manage.py <any command>`, gunicorn (its own config file, and the Django settings that
`--check-config` and each worker load) and `celery worker`. Before, Python or gunicorn printed a
traceback through config/env.py above the message. Errors that are not a refused setting keep
their traceback. Real processes, as operators start them."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .service_processes import free_port
from .test_settings_validation_startup import clean_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LEASE = "RuntimeError: LONGTAIL_LEASE_SECONDS must be a whole number, got 'abc'"


def run(args: list[str], tmp_path: Path, timeout: int = 180, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=clean_env(tmp_path, **extra), capture_output=True, text=True,
                          timeout=timeout)


def only_the_message(result: subprocess.CompletedProcess, message: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [message], result.stderr[-3000:]


@pytest.mark.parametrize(("command", "variables", "message"), [
    (["check"], {"LONGTAIL_LEASE_SECONDS": "abc"}, LEASE),
    (["showmigrations"], {"LONGTAIL_FINETUNE": '{"epochs": "2"}'},
     "RuntimeError: LONGTAIL_FINETUNE option 'epochs' must be a whole number, got '2'"),
    (["help"], {"SECRET_KEY": ""}, "RuntimeError: SECRET_KEY must be set when DEBUG is off"),
    (["check"], {"LONGTAIL_TASK_HEARTBEAT_SECONDS": "400"},
     "RuntimeError: LONGTAIL_TASK_HEARTBEAT_SECONDS must be below LONGTAIL_TASK_STALE_SECONDS (300), got 400"),
], ids=["check", "showmigrations", "help", "a rule between two settings"])
def test_manage_py_prints_only_the_message(tmp_path, command, variables, message):
    result = run([sys.executable, "manage.py", *command], tmp_path, **variables)
    assert result.returncode == 1
    only_the_message(result, message)


def test_an_error_that_is_not_a_refused_setting_keeps_its_traceback(tmp_path):
    result = run([sys.executable, "manage.py", "check"], tmp_path, DATABASE_URL="nosuchdb://host/name")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):"), result.stderr[-3000:]


def test_gunicorn_config_file_value(tmp_path):
    result = run([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "--check-config", "config.wsgi:application"],
                 tmp_path, GUNICORN_WORKERS="three")
    assert result.returncode == 1
    only_the_message(result, "RuntimeError: GUNICORN_WORKERS must be a whole number, got 'three'")


def test_gunicorn_check_config_with_a_bad_django_setting(tmp_path):
    result = run([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "--check-config", "config.wsgi:application"],
                 tmp_path, LONGTAIL_LEASE_SECONDS="abc")
    assert result.returncode != 0
    only_the_message(result, LEASE)


def test_gunicorn_stops_before_any_worker_with_a_bad_django_setting(tmp_path):
    """gunicorn loads the settings once before it forks workers: it stops there with the message.
    Before, each worker failed with a traceback, and the master could add one of its own while it
    halted on several workers failing at once."""
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi:application"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=clean_env(tmp_path, LONGTAIL_LEASE_SECONDS="abc", GUNICORN_BIND=f"127.0.0.1:{free_port()}",
                                             GUNICORN_WORKERS="3", HOME=str(tmp_path)))
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 1, err[-3000:]
    assert "Traceback" not in out + err and "Booting worker" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == LEASE, err[-3000:]
    assert err.count("RuntimeError") == 1


def test_celery_worker_prints_only_the_message(tmp_path):
    result = run([str(BIN / "celery"), "-A", "config", "worker", "-c", "1", "-Q", "wt_c_never_used"], tmp_path,
                 timeout=120, LONGTAIL_LEASE_SECONDS="abc", REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    assert result.returncode == 1
    only_the_message(result, LEASE)
