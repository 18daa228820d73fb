"""How an error reads in a run's message (describe_error), for the lead who reads it on the
dashboard: what went wrong in this app's words, never advice that is not true of it."""
from __future__ import annotations

from celery.backends.asynchronous import E_RETRY_LIMIT_EXCEEDED
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings


def describe_error(exc: BaseException) -> str:
    """An error as a run's message shows it; a soft time limit names its setting. Queuing work
    while Redis is down can fail in Celery's result store before the broker is even asked: its
    RuntimeError says "The Celery application must be restarted", which is not so (the next
    request reconnects once Redis is back), so it reads as the connection error beneath it."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return (f"it ran past the soft time limit of {settings.LONGTAIL_TASK_SOFT_TIME_LIMIT} s "
                "(LONGTAIL_TASK_SOFT_TIME_LIMIT)")
    if isinstance(exc, RuntimeError) and str(exc) == E_RETRY_LIMIT_EXCEEDED and exc.__cause__ is not None:
        return f"Redis (the broker and result store) did not answer: {describe_error(exc.__cause__)}"
    return f"{type(exc).__name__}: {exc}"
