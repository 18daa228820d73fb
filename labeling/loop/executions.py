"""One execution per task message at a time, and a bound on how often a message is delivered.

Every loop task acks late: a worker that dies mid-task leaves its message to be delivered again,
and a message whose worker process was lost is requeued at once (CELERY_TASK_REJECT_ON_WORKER_LOST).
Two things follow that a run's state cannot catch:

- A worker whose broker connection drops gives its unacknowledged messages back while their tasks
  still run (kombu's Redis transport: "Restoring N unacknowledged message(s)"), and another worker
  runs the same task again at once, in parallel: two fine-tunes writing one folder, or a retrain
  failing on the one-training-per-project constraint and throwing its model away.
- A task that kills its worker process each time (out of memory) is delivered again and again.

So each delivery of a loop task claims its message first: a Redis key per (task id, retry),
set only when absent, with a short time to live that a thread renews while the task runs. A
delivery that finds the key held waits out one time to live. A live holder keeps renewing it, so
the delivery is a duplicate and ends without doing anything (its message is acknowledged). A dead
holder's key lapses, so the delivery takes over, as a redelivery after a crash must. A claim is
marked done when its task ends, so a copy handed out later does nothing either. Deliveries that
get the claim are counted per message: past ``max_deliveries()`` the task's run is failed with the
reason instead of being run once more. In eager mode (no broker: ``make demo``, most tests) nothing is
claimed; where Redis cannot be reached for the claim the task runs unclaimed (a duplicate is the
rarer harm than a stalled loop).
"""
from __future__ import annotations

import inspect
import logging
import threading
import time
import uuid
from contextlib import contextmanager

import redis
from celery import Task
from celery.exceptions import Ignore
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from config.database_retry import until_database_answers
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Project

from . import runs
from .broker import CLAIM_KEY as KEY
from .broker import client as _client
from .cutoffs import claim_seconds, claim_wait_seconds
from .errors import describe_error

log = logging.getLogger(__name__)

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_FINISH = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'px', ARGV[3]) "
           "end return 0")
DONE = b"done"  # the claim of a message that ran to its end (or was given up)
DONE_MS = 2 * 3600 * 1000


def max_deliveries() -> int:
    """A message is run at most this often: once, plus LONGTAIL_TASK_MAX_REQUEUES redeliveries."""
    return 1 + int(settings.LONGTAIL_TASK_MAX_REQUEUES)


# A task's arguments that name a row of a project. A message queued before its project was deleted
# (labeling.projects.deletion) finds the row gone and ends with a log line, not an error.
ROW_ARGUMENTS = {"run_id": TaskRun, "version_id": ModelVersion, "project_id": Project}


def gone_row(task: Task, args, kwargs) -> str | None:
    """The row one of the task's arguments names that no longer exists, in words, or None."""
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs)
    except TypeError:
        return None
    for name, model in ROW_ARGUMENTS.items():
        value = bound.arguments.get(name)
        if isinstance(value, int) and value and not model.objects.filter(pk=value).exists():
            return f"{model._meta.verbose_name} {value}"
    return None


def run_id_of(task: Task, args, kwargs) -> int | None:
    """The TaskRun a loop task reports on: its ``run_id`` argument, where it has one."""
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs)
    except TypeError:
        return None
    value = bound.arguments.get("run_id")
    return int(value) if isinstance(value, int) and value else None


@contextmanager
def claimed(task: Task, args, kwargs):
    """Yields True when this delivery may run the task (it holds the claim, renewed until the
    block ends, then marked done), False when it must not: another live execution holds it or
    ran it to its end, or the message has been delivered too often (its run is then failed here).
    Only deliveries that get the claim are counted: a duplicate that finds a live holder is not a
    crash, and counting it could fail a run that is still working."""
    client = _client()
    request = task.request
    if client is None or request.is_eager or not request.id:
        yield True
        return
    key = KEY.format(id=request.id, retry=request.retries or 0)
    token = uuid.uuid4().hex
    ttl_ms = int(claim_seconds() * 1000)
    try:
        mine = bool(client.set(key, token, nx=True, px=ttl_ms))
        if not mine and not (client.get(key) or b"").startswith(DONE):
            time.sleep(claim_wait_seconds())  # a live holder renews within this; a dead one's key lapses
            mine = bool(client.set(key, token, nx=True, px=ttl_ms))
        if mine:
            deliveries = client.incr(key + ":deliveries")
            client.expire(key + ":deliveries", int(settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT) * 2)
            if deliveries > max_deliveries():
                client.set(key, DONE, px=DONE_MS)
                _give_up(task, args, kwargs, deliveries)
                yield False
                return
    except redis.RedisError:
        log.warning("%s[%s]: no claim (Redis unreachable); running unclaimed", task.name, request.id, exc_info=True)
        yield True
        return
    if not mine:
        log.warning("%s[%s] is running or ran on another worker (a message given back while it ran): this "
                    "delivery does nothing", task.name, request.id)
        yield False
        return
    stop = threading.Event()

    def renew():
        while not stop.wait(claim_seconds() / 3):
            try:
                client.eval(_RENEW, 1, key, token, ttl_ms)
            except redis.RedisError:
                log.warning("%s[%s]: claim not renewed this time", task.name, request.id, exc_info=True)

    thread = threading.Thread(target=renew, name=f"claim-{request.id}", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join(timeout=5)
        try:
            # done, not released: a copy of the message handed out late must not run it again
            client.eval(_FINISH, 1, key, token, DONE, DONE_MS)
        except redis.RedisError:
            pass  # it lapses on its own


def _give_up(task: Task, args, kwargs, deliveries: int) -> None:
    run_id = run_id_of(task, args, kwargs)
    message = (f"Stopped: {task.name.rsplit('.', 1)[-1]} was delivered {deliveries} times; each time its worker "
               f"process died before it ended (out of memory?). It is not run again "
               f"(LONGTAIL_TASK_MAX_REQUEUES = {settings.LONGTAIL_TASK_MAX_REQUEUES}).")
    log.error("%s[%s]: %s", task.name, task.request.id, message)
    if run_id:
        until_database_answers(lambda: runs.give_up_run(run_id, message), what=f"{task.name}[{task.request.id}] give-up")


class ClaimedTask(Task):
    """A loop task: each delivery runs only under its message's claim (see the module docstring).
    A delivery that must not run raises Ignore: its message is acknowledged with no result, so a
    duplicate of a chord member never reports the chord's part done before the real one is."""

    def __call__(self, *args, **kwargs):
        # Outside ``run``, so outside autoretry_for: a database that does not answer here (the
        # message came during an outage, or as the retry of a step that met it) is retried like
        # the step's own errors. Before, the task failed outright, its failure unrecorded.
        try:
            gone = gone_row(self, args, kwargs)
        except TRANSIENT as exc:
            raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
        if gone:
            log.info("%s[%s]: %s no longer exists (its project was deleted?): nothing to do", self.name,
                     self.request.id, gone)
            return None
        with claimed(self, args, kwargs) as mine:
            if not mine:
                raise Ignore()
            return super().__call__(*args, **kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # An error no step caught ends its run now: the soft time limit firing while this delivery
        # waited out a dead process's claim, an error in a step's unguarded code, a transient error
        # past its retries. Before, the run stayed open until the stale sweep failed it as "its
        # worker stopped" and queued it again into the same error. A run a step already failed is
        # left as it is (update_run writes open runs only). The failure is often the database's (a
        # transient error past its retries), so its record is tried again while the database does
        # not answer: given up at once, the run read "running" until the sweep failed it that way.
        run_id = run_id_of(self, args, kwargs)
        if run_id:
            message = f"{self.name.rsplit('.', 1)[-1]} failed: {describe_error(exc)}"
            until_database_answers(lambda: runs.give_up_run(run_id, message), what=f"{self.name}[{task_id}] failure")

    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, max_retries=None,
              **options):
        # Never at once: the backoff's full jitter draws from 0 up, and a retry sent "in 0 s" met
        # the database still down and spent a retry for nothing. Every retry waits at least
        # RETRY_MIN_SECONDS, the jitter on top (5 retries: 25 s at the least, about a minute typically).
        if eta is None:
            countdown = RETRY_MIN_SECONDS + (countdown or 0)
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)


# The database's and the broker's connection errors. A step that sends its next step while Redis is
# down meets kombu's OperationalError (redis' own ConnectionError where the result store is asked
# first): retried like the others, not failed for good by on_failure (a wave-complete retrain would
# then open no next wave). A retry that cannot be sent either is rejected by Celery, and the run,
# still open, is found by the workers' sweep and queued again.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, RedisConnectionError, TimeoutError,
             BrokerOperationalError)
RETRY_MIN_SECONDS = 5
RETRY_BACKOFF, RETRY_BACKOFF_MAX = 2, 60


def backoff_seconds(retries: int) -> int:
    """The jittered backoff autoretry_for draws (TASK_OPTIONS), for a retry raised by hand."""
    return get_exponential_backoff_interval(RETRY_BACKOFF, retries, RETRY_BACKOFF_MAX, full_jitter=True)


TASK_OPTIONS = {
    "base": ClaimedTask,  # one execution per message at a time, a bounded number of deliveries
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": RETRY_BACKOFF,  # plus RETRY_MIN_SECONDS (ClaimedTask.retry)
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": 5,
    # Bounded in time (config.settings): past the soft limit the task records the failure on its
    # run; the hard limit kills it; the broker's visibility timeout outlasts both.
    "soft_time_limit": settings.LONGTAIL_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.LONGTAIL_TASK_TIME_LIMIT,
}
