"""The loop's time settings are refused by Django's system checks (labeling.loop.checks) where they
would fail live runs: a soft time limit at or below the wait of a second delivery on its message's
claim (LONGTAIL_TASK_CLAIM_SECONDS + 1 s; the soft limit fired inside that wait and failed the run
of a step that was still running), and a hard limit at or below the soft limit."""
import subprocess
import sys

from django.core.checks import Error, run_checks
from django.test import override_settings

from tests.service_processes import ROOT, service_env


def _loop_errors() -> dict[str, str]:
    return {m.id: m.msg for m in run_checks() if m.id and m.id.startswith("longtail.")}


def test_the_default_limits_pass():
    assert _loop_errors() == {}


@override_settings(LONGTAIL_TASK_SOFT_TIME_LIMIT=16, LONGTAIL_TASK_TIME_LIMIT=136, LONGTAIL_TASK_CLAIM_SECONDS=15)
def test_a_soft_limit_at_the_claim_wait_is_refused_naming_both_settings():
    errors = [m for m in run_checks() if m.id == "longtail.E001"]
    assert len(errors) == 1 and isinstance(errors[0], Error), errors
    assert "LONGTAIL_TASK_SOFT_TIME_LIMIT (16 s)" in errors[0].msg, errors[0].msg
    assert "LONGTAIL_TASK_CLAIM_SECONDS = 15 s" in errors[0].msg and "16 s" in errors[0].msg, errors[0].msg
    assert "fail" in errors[0].msg and "LONGTAIL_TASK_SOFT_TIME_LIMIT above 16 s" in errors[0].hint


@override_settings(LONGTAIL_TASK_SOFT_TIME_LIMIT=5, LONGTAIL_TASK_TIME_LIMIT=30)
def test_a_soft_limit_below_the_claim_wait_is_refused():
    assert "LONGTAIL_TASK_SOFT_TIME_LIMIT (5 s)" in _loop_errors()["longtail.E001"]


@override_settings(LONGTAIL_TASK_SOFT_TIME_LIMIT=17, LONGTAIL_TASK_TIME_LIMIT=30, LONGTAIL_TASK_CLAIM_SECONDS=15)
def test_a_soft_limit_past_the_claim_wait_passes():
    assert _loop_errors() == {}


@override_settings(LONGTAIL_TASK_SOFT_TIME_LIMIT=2, LONGTAIL_TASK_TIME_LIMIT=5, LONGTAIL_TASK_CLAIM_SECONDS=0.5)
def test_a_short_claim_allows_a_short_soft_limit():
    assert _loop_errors() == {}


@override_settings(LONGTAIL_TASK_SOFT_TIME_LIMIT=600, LONGTAIL_TASK_TIME_LIMIT=300)
def test_a_hard_limit_below_the_soft_limit_is_refused_naming_both_settings():
    errors = _loop_errors()
    assert list(errors) == ["longtail.E002"], errors
    assert "LONGTAIL_TASK_TIME_LIMIT (300 s)" in errors["longtail.E002"]
    assert "LONGTAIL_TASK_SOFT_TIME_LIMIT (600 s)" in errors["longtail.E002"]


@override_settings(LONGTAIL_TASK_SOFT_TIME_LIMIT=600, LONGTAIL_TASK_TIME_LIMIT=600)
def test_a_hard_limit_equal_to_the_soft_limit_is_refused():
    assert "longtail.E002" in _loop_errors()


def test_manage_py_check_refuses_a_soft_limit_below_the_claim_wait():
    """What an operator sees: the command ends with the error, not a traceback."""
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          env=service_env(LONGTAIL_TASK_SOFT_TIME_LIMIT=10, DATABASE_URL="sqlite:///:memory:"),
                          timeout=120)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "(longtail.E001) LONGTAIL_TASK_SOFT_TIME_LIMIT (10 s)" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
