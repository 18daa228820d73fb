"""What the Redis broker holds, read directly: the claims of running task messages
(``executions``), and, for the workers' stale-run sweep in one read of the queues (``look``),
whether a message that was sent is still there and which of a running run's next steps still
wait for a worker.

A run stays ``pending`` until its first task starts. If the broker lost that message (Redis
restarted without persistence, a queue flushed by hand), nothing would ever start it, and the
stale-run rule used to give up on it only after the visibility timeout plus the cut-off (about 40
minutes by default), blocking the project's retrains and plans all that time. The workers'
periodic sweep asks here instead, once the cut-off has passed (never a web request: it reads the
queues): a message that is in no queue, not handed to a worker (the transport's ``unacked``
hash) and not claimed by an execution is lost.

The sweep asks about every message past the cut-off, however long it has waited (a message
still in a queue is waiting, not lost: labeling.loop.stale_rule), so the read is bounded: each
queue list is read in pages of ``PAGE`` messages, only a message whose text names a wanted id is
parsed, the read stops once every id is found, and at most ``MAX_READ`` messages are read per
look; an id not found in a read cut short is taken as held (unknown is never taken for lost).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable

import redis
from django.conf import settings

CLAIM_KEY = "longtail:task:{id}:{retry}"
UNACKED = "unacked"  # kombu's Redis transport: messages handed to a worker and not acknowledged yet
_clients: dict[str, redis.Redis] = {}


MAX_RETRIES = 5  # labeling.loop.executions TASK_OPTIONS: a retried message keeps its id, one claim per retry
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport names a queue's priority lists "<queue>\x06\x16<n>"


def client() -> redis.Redis | None:
    """The broker's Redis, or None when the broker is not Redis (eager mode: no broker). It gives
    up as fast as publishing does (LONGTAIL_BROKER_TIMEOUT_SECONDS, at least a second)."""
    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if url not in _clients:
        timeout = max(1.0, float(settings.LONGTAIL_BROKER_TIMEOUT_SECONDS))
        _clients[url] = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return _clients[url]


def _queue_lists() -> list[str]:
    routes = getattr(settings, "CELERY_TASK_ROUTES", {}) or {}
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE, *(r.get("queue") for r in routes.values() if r.get("queue"))}
    return [name for queue in sorted(queues) for name in (queue, *(f"{queue}{PRIORITY_SEP}{n}" for n in range(1, 10)))]


def _header_ids(raw: bytes) -> tuple[str | None, str | None, int]:
    """(task id, group id, retry) of a message as a queue or the unacked hash stores it."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None, None, 0
    if isinstance(message, list):  # the unacked hash keeps [message, exchange, routing key]
        message = message[0] if message else None
    headers = (message.get("headers") if isinstance(message, dict) else None) or {}
    return headers.get("id"), headers.get("group"), int(headers.get("retries") or 0)


# Messages read per LRANGE (the sweep never holds a whole long queue in memory), and per look at
# most: a million queued chunks are not read every third of the stale cut-off.
PAGE = 1_000
MAX_READ = 50_000
# The header ids as kombu's JSON writes them ("id": "…", "group": "…"); a string's quotes inside an
# encoded value are escaped, so only real keys match. A message with none is parsed whole.
_HEADER_ID = re.compile(rb'"(?:id|group)":\s*"([^"\\]*)"')


def can_look() -> bool:
    """The broker is one ``look`` can read (a Redis broker; it may still be unreachable): a web
    request, which never reads the queues, leaves the messages past the cut-off to the sweep."""
    return client() is not None


def _names_wanted(raw: bytes, wanted: set[str]) -> bool:
    named = _HEADER_ID.findall(raw)
    return not named or any(i.decode(errors="replace") in wanted for i in named)


def _queued(redis_client: redis.Redis, wanted: set[str]) -> tuple[set[str], bool]:
    """The ``wanted`` ids (task or group ids) in the queue lists, and False when the read was cut
    short at MAX_READ messages (the ids not found may be in what was not read). Each list is read
    from its head (the newest messages) page by page: a message pushed meanwhile moves the others
    one place toward the tail (one is read twice), one consumed meanwhile leaves from the tail, so
    no message is skipped. Stops once every id is found."""
    found: set[str] = set()
    read = 0
    for key in _queue_lists():
        start = 0
        while found < wanted:
            if read >= MAX_READ:
                return found, False
            size = min(PAGE, MAX_READ - read)
            page = redis_client.lrange(key, start, start + size - 1)
            read, start = read + len(page), start + len(page)
            for raw in page:
                if _names_wanted(raw, wanted):
                    found.update(i for i in _header_ids(raw)[:2] if i in wanted)
            if len(page) < size:
                break
    return found, True


def _look_once(redis_client: redis.Redis, steps: set[str], sent: set[str]) -> tuple[set[str], set[str]]:
    """(the ``steps`` waiting to start, the ``sent`` the broker still holds) in one read of the
    queues, then of the unacked hash (a message taken from its queue meanwhile is found there)."""
    queued, complete = _queued(redis_client, steps | sent) if steps or sent else (set(), True)
    handed = [ids for ids in map(_header_ids, redis_client.hvals(UNACKED)) if ids[0] or ids[1]]
    waiting_now, known = steps & queued, sent & queued
    started = redis_client.pipeline(transaction=False)
    hits = []
    for task_id, group_id, retry in handed:
        known |= sent & {task_id, group_id}
        if steps & {task_id, group_id}:
            hits.append(steps & {task_id, group_id})
            started.exists(CLAIM_KEY.format(id=task_id, retry=retry) + ":deliveries")
    # handed to a worker: waiting there (prefetched, or a retry's countdown) until an execution
    # claims it; a claimed one has started, and its task beats the run's heartbeat
    for ids, claimed in zip(hits, started.execute(), strict=True):
        if not claimed:
            waiting_now |= ids
    if not complete:  # a queue longer than MAX_READ: what was not read may hold them
        return waiting_now | (steps - set().union(*hits)), set(sent)
    claims = redis_client.pipeline(transaction=False)
    unseen = sorted(sent - known)
    for task_id in unseen:  # an execution holds its claim: running (or ran)
        claims.exists(*(CLAIM_KEY.format(id=task_id, retry=n) for n in range(MAX_RETRIES + 1)))
    known |= {task_id for task_id, held in zip(unseen, claims.execute(), strict=True) if held}
    return waiting_now, known


def look(steps: Iterable[str] = (), sent: Iterable[str] = ()) -> tuple[set[str], set[str]] | None:
    """What the broker holds of the workers' sweep's ids, reading the queues once for all of them
    (not once per run: a queue can hold thousands of messages, an import's embedding chunks):

    - which of ``steps`` (the next steps of running runs: task ids, or the group id every part of a
      chord carries) have a message that has not started yet: in a queue, or handed to a worker
      that has not begun it. Nothing of a run beats its heartbeat while its next step waits there,
      behind other work: such a run is waiting, not dead;
    - which of ``sent`` (the first task messages of pending runs) the broker still holds: queued,
      handed to a worker, or claimed by a running execution.

    Where some are not found, the queues are read once more a second later (a message moves from
    its queue to the unacked hash in two steps, and a chord's last part sends the next step as it
    ends): one re-look for the whole sweep. None when that cannot be told (no Redis broker, Redis
    unreachable). Reads the queues (bounded: PAGE, MAX_READ): for the workers' periodic sweep, never
    a web request."""
    steps, sent = {str(i) for i in steps if i}, {str(i) for i in sent if i}
    redis_client = client()
    if redis_client is None:
        return None
    if not (steps or sent):
        return set(), set()
    try:
        waiting_now, known = _look_once(redis_client, steps, sent)
        if waiting_now != steps or known != sent:
            time.sleep(1.0)
            again = _look_once(redis_client, steps - waiting_now, sent - known)
            waiting_now, known = waiting_now | again[0], known | again[1]
    except redis.RedisError:
        return None
    return waiting_now, known

