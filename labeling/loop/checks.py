"""System checks of the loop's time settings (``manage.py check``, and every management command
that checks first: ``migrate``, ``runserver``). config.settings already refuses a soft limit at or
above the hard limit read from the environment; these also hold what a settings module or an
override sets, and the soft limit against the claim wait of a second delivery."""
from __future__ import annotations

from django.conf import settings
from django.core import checks

from .cutoffs import claim_wait_seconds

SOFT_LIMIT_BELOW_CLAIM_WAIT = "longtail.E001"
HARD_LIMIT_BELOW_SOFT_LIMIT = "longtail.E002"


def time_limits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A soft time limit at or below the claim wait: a second delivery of a step that is still
    running (a message given back while its task ran) waits that long on the claim, inside the task,
    so the soft limit fires there and fails the live step's run (ClaimedTask.on_failure). A hard
    limit at or below the soft limit kills a task before it can record why it stopped."""
    soft, hard = settings.LONGTAIL_TASK_SOFT_TIME_LIMIT, settings.LONGTAIL_TASK_TIME_LIMIT
    errors = []
    if soft <= claim_wait_seconds():
        errors.append(checks.Error(
            f"LONGTAIL_TASK_SOFT_TIME_LIMIT ({soft:g} s) is at or below the {claim_wait_seconds():g} s a second "
            f"delivery of a task message waits on its claim (LONGTAIL_TASK_CLAIM_SECONDS = "
            f"{settings.LONGTAIL_TASK_CLAIM_SECONDS:g} s, plus 1 s): a duplicate delivery of a step that is still "
            "running would reach the soft limit while it waits and fail that step's run.",
            hint=f"Set LONGTAIL_TASK_SOFT_TIME_LIMIT above {claim_wait_seconds():g} s (the default is 1800), "
                 "or lower LONGTAIL_TASK_CLAIM_SECONDS.",
            id=SOFT_LIMIT_BELOW_CLAIM_WAIT))
    if hard <= soft:
        errors.append(checks.Error(
            f"LONGTAIL_TASK_TIME_LIMIT ({hard:g} s) is at or below LONGTAIL_TASK_SOFT_TIME_LIMIT ({soft:g} s): the "
            "worker would kill a task before its soft limit lets it record the failure on its run.",
            hint="Set LONGTAIL_TASK_TIME_LIMIT above LONGTAIL_TASK_SOFT_TIME_LIMIT (the default is the soft limit "
                 "+ 120 s).",
            id=HARD_LIMIT_BELOW_SOFT_LIMIT))
    return errors
