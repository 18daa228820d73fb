"""Every number, JSON and choice setting has its bound (config/env.py, config/settings.py), and
config/gunicorn.conf.py reads its numbers the same way.

The settings sweep runs in one process that reloads config.settings once per case (a process per
case would take minutes); the bound itself is what the case checks: the value just past it is
refused with a message naming the variable, the bound (0 where 0 means off) is accepted.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .test_settings_validation_startup import clean_env

ROOT = Path(__file__).resolve().parent.parent

SWEEP = """
import importlib, json, os, sys
import config.settings as settings
results = []
for name, value in json.loads(sys.argv[1]):
    os.environ[name] = value
    try:
        importlib.reload(settings)
        results.append(["ok", getattr(settings, name, None)])
    except Exception as error:  # anything but the settings' own RuntimeError is a failure to report
        results.append([type(error).__name__, str(error)])
    del os.environ[name]
print(json.dumps(results, default=str))
"""

# (variable, value, None when accepted, else what the message says besides the name)
CASES = [
    ("LONGTAIL_TASK_SOFT_TIME_LIMIT", "0", "must be at least 1"),
    ("LONGTAIL_TASK_TIME_LIMIT", "soon", "must be a whole number"),
    ("LONGTAIL_BROKER_VISIBILITY_TIMEOUT", "1e4", "must be a whole number"),
    ("LONGTAIL_WORKER_NICE", "-1", "must be between 0 and 19"),
    ("LONGTAIL_WORKER_NICE", "0", None),
    ("LONGTAIL_TASK_STALE_SECONDS", "1", "must be at least 2"),
    ("LONGTAIL_TASK_STALE_SECONDS", "2", None),
    ("LONGTAIL_TASK_HEARTBEAT_SECONDS", "0", "must be above 0"),
    ("LONGTAIL_TASK_HEARTBEAT_SECONDS", "300", "must be below LONGTAIL_TASK_STALE_SECONDS (300)"),
    ("LONGTAIL_TASK_HEARTBEAT_SECONDS", "0.5", None),
    ("LONGTAIL_TASK_MAX_REQUEUES", "0", None),
    ("LONGTAIL_TASK_CLAIM_SECONDS", "0", "must be at least 0.1"),
    ("LONGTAIL_TASK_CLAIM_SECONDS", "inf", "must be a finite number"),
    ("LONGTAIL_BROKER_TIMEOUT_SECONDS", "0", "must be above 0"),
    ("LONGTAIL_BROKER_TIMEOUT_SECONDS", "nan", "must be a finite number"),
    ("LONGTAIL_BROKER_TIMEOUT_SECONDS", "0.25", None),
    ("LONGTAIL_EMBED_CHUNK", "0", "must be at least 1"),
    ("LONGTAIL_PLAN_EMBED_INLINE_MAX", "0", None),
    ("LONGTAIL_RULE_TIME_BUDGET_SECONDS", "0", "must be above 0"),
    ("LONGTAIL_RULE_TIME_BUDGET_SECONDS", "ten", "must be a number"),
    ("LONGTAIL_TOKEN_TTL_HOURS", "0", "must be above 0"),
    ("LONGTAIL_TOKEN_TTL_HOURS", "0.5", None),
    ("LONGTAIL_MAX_UPLOAD_BYTES", "0", "must be at least 1"),
    ("LONGTAIL_MAX_REPORTED_ERRORS", "0", "must be at least 1"),
    ("LONGTAIL_MAX_METADATA_BYTES", "1", "must be at least 2"),
    ("LONGTAIL_LEASE_SECONDS", "0", "must be at least 1"),
    ("LONGTAIL_SELF_TRAINING_ROWS", "0", None),
    ("SECURE_HSTS_SECONDS", "-1", "must be at least 0"),
    ("SECURE_HSTS_SECONDS", "0", None),
    ("DB_CONN_MAX_AGE", "-1", "must be at least 0"),
    ("LOG_LEVEL", "debug", None),
    ("LONGTAIL_ENCODER_BACKEND", "cuda", "is not one of auto, torch, onnx, onnx-int8"),
    ("CELERY_TASK_ALWAYS_EAGER", "sometimes", "must be one of 1, true, yes, on (on) or 0, false, no, off (off)"),
    ("LONGTAIL_FINETUNE", "[1, 2]", "must be a JSON object such as"),
    ("LONGTAIL_FINETUNE", '{"epochs": "2"}', "option 'epochs' must be a whole number, got '2'"),
    ("LONGTAIL_FINETUNE", '{"device": 3}', "option 'device' must be a string or null"),
    ("LONGTAIL_FINETUNE", '{"folds": 1}', "folds must be 0 (no comparison) or at least 2"),
    ("LONGTAIL_FINETUNE", '{"epochs": 2, "lr": 1, "device": null}', None),
    ("LONGTAIL_MODEL_PATH", "config/settings.py", "must name an existing folder, got 'config/settings.py' (a file)"),
    ("LONGTAIL_MODEL_PATH", "config", None),
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sweep")
    out = subprocess.run([sys.executable, "-c", SWEEP, json.dumps([[name, value] for name, value, _ in CASES])],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=clean_env(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(zip([(name, value) for name, value, _ in CASES], json.loads(out.stdout), strict=True))


@pytest.mark.parametrize(("variable", "value", "must"), CASES, ids=[f"{v}={x}" for v, x, _ in CASES])
def test_each_setting_refuses_a_value_past_its_bound(sweep, variable, value, must):
    outcome, detail = sweep[(variable, value)]
    if must is None:
        assert outcome == "ok", detail
    else:
        assert outcome == "SettingError", f"{variable}={value!r}: {outcome} {detail!r}"
        assert detail.startswith(variable) and must in detail, detail
        assert "\n" not in detail


def test_accepted_values_are_what_was_set(sweep):
    assert sweep[("LOG_LEVEL", "debug")][1] is None  # read into LOGGING, not a setting of its own
    assert sweep[("LONGTAIL_TOKEN_TTL_HOURS", "0.5")][1] == 0.5
    assert sweep[("LONGTAIL_TASK_HEARTBEAT_SECONDS", "0.5")][1] == 0.5
    assert sweep[("LONGTAIL_FINETUNE", '{"epochs": 2, "lr": 1, "device": null}')][1] == {"epochs": 2, "lr": 1,
                                                                                         "device": None}


def test_gunicorn_refuses_a_bad_number_naming_the_variable(tmp_path):
    result = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py",
                             "--check-config", "config.wsgi:application"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env=clean_env(tmp_path, GUNICORN_WORKERS="three"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == "RuntimeError: GUNICORN_WORKERS must be a whole number, got 'three'", result.stderr[-2000:]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("GUNICORN_THREADS", "0", "GUNICORN_THREADS must be at least 1, got 0"),
    ("GUNICORN_TIMEOUT", "-1", "GUNICORN_TIMEOUT must be at least 0, got -1"),
    ("LONGTAIL_WARM_ENCODER", "maybe", "LONGTAIL_WARM_ENCODER must be one of 1, true, yes, on (on)"),
])
def test_gunicorn_conf_bounds(tmp_path, variable, value, message):
    code = "import runpy; runpy.run_path('config/gunicorn.conf.py')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=clean_env(tmp_path, **{variable: value}))
    assert result.returncode == 1 and message in result.stderr.strip().splitlines()[-1], result.stderr[-2000:]


def test_gunicorn_conf_empty_values_mean_the_defaults(tmp_path):
    code = ("import runpy; c = runpy.run_path('config/gunicorn.conf.py'); "
            "print(c['bind'], c['workers'], c['threads'], c['timeout'], c['graceful_timeout'], c['WARM'])")
    empty = {name: "" for name in ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_TIMEOUT",
                                   "GUNICORN_GRACEFUL_TIMEOUT", "LONGTAIL_WARM_ENCODER")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=clean_env(tmp_path, **empty))
    assert result.stdout.split() == ["0.0.0.0:8000", "3", "4", "120", "30", "True"], result.stderr[-2000:]
