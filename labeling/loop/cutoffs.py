"""The time bounds of the loop's bookkeeping, from settings: when a silent run is taken for an
interrupted one (labeling.loop.runs), and how long a second delivery of a task message waits on
its claim (labeling.loop.executions). The system checks (labeling.loop.checks) hold the time
limits against the claim wait."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def stale_after() -> timedelta:
    """A running run whose heartbeat is older than this was interrupted (its worker died)."""
    return timedelta(seconds=int(settings.LONGTAIL_TASK_STALE_SECONDS))


def pending_stale_after() -> timedelta:
    """A run still pending (its message never started) is given up once a message held by a dead
    worker would have come back (the broker's visibility timeout) and the stale cut-off passed."""
    return stale_after() + timedelta(seconds=int(settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT))


def claim_seconds() -> float:
    return float(settings.LONGTAIL_TASK_CLAIM_SECONDS)


def claim_wait_seconds() -> float:
    """How long a delivery that finds its message's claim held waits before it looks again: a live
    holder renews the claim within this, a dead one's lapses. The wait runs inside the task, under
    its time limits."""
    return claim_seconds() + 1
