"""What the Redis broker holds, read directly: the claims of running task messages
(``executions``), and, for the workers' stale-run sweep in one read of the queues (``look``),
whether a message that was sent is still there and which of a running run's next steps still
wait for a worker.

A run stays ``pending`` until its first task starts. If the broker lost that message (Redis
restarted without persistence, a queue flushed by hand), nothing would ever start it, and the
stale-run rule used to give up on it only after the visibility timeout plus the cut-off (about 40
minutes by default), blocking the project's retrains and plans all that time. The workers'
periodic sweep asks here instead, once the cut-off has passed (never a web request: it reads
whole queues): a message that is in no queue, not handed to a worker (the transport's ``unacked``
hash) and not claimed by an execution is lost.
"""
from __future__ import annotations

import json
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


def _snapshot(redis_client: redis.Redis) -> tuple[set[str], list[tuple[str | None, str | None, int]]]:
    """One read of every queue list and the unacked hash: the ids (and group ids) of the messages
    queued, and (id, group id, retry) of those handed to a worker."""
    queued: set[str] = set()
    for key in _queue_lists():
        for raw in redis_client.lrange(key, 0, -1):
            queued.update(i for i in _header_ids(raw)[:2] if i)
    return queued, [ids for ids in map(_header_ids, redis_client.hvals(UNACKED)) if ids[0] or ids[1]]


def _look_once(redis_client: redis.Redis, steps: set[str], sent: set[str]) -> tuple[set[str], set[str]]:
    """(the ``steps`` waiting to start, the ``sent`` the broker still holds) in one snapshot."""
    queued, handed = _snapshot(redis_client)
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
    unreachable). Reads whole queues: for the workers' periodic sweep, never a web request."""
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

