"""What the Redis broker holds, read directly: the claims of running task messages
(``executions``), whether a message that was sent is still there (``message_known``), and which
of a running run's next steps still wait for a worker (``waiting``).

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


def _seen(redis_client: redis.Redis, task_id: str) -> bool:
    needle = task_id.encode()
    if redis_client.exists(*(CLAIM_KEY.format(id=task_id, retry=n) for n in range(MAX_RETRIES + 1))):
        return True  # an execution holds its claim: running (or ran)
    for key in _queue_lists():
        if any(needle in raw for raw in redis_client.lrange(key, 0, -1)):
            return True
    return any(needle in raw for raw in redis_client.hvals(UNACKED))


def message_known(task_id: str | None) -> bool | None:
    """True while the broker still holds the message of ``task_id`` (queued, handed to a worker,
    or claimed by a running execution); False when it holds none of these, twice a second apart
    (a message moves from its queue to the unacked hash in two steps); None when that cannot be
    told (no task id recorded, no Redis broker, Redis unreachable)."""
    redis_client = client()
    if not task_id or redis_client is None:
        return None
    try:
        if _seen(redis_client, task_id):
            return True
        time.sleep(1.0)
        return _seen(redis_client, task_id)
    except redis.RedisError:
        return None


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


def _waiting_once(redis_client: redis.Redis, wanted: set[str]) -> set[str]:
    found = set()
    for key in _queue_lists():
        for raw in redis_client.lrange(key, 0, -1):
            found |= wanted & set(_header_ids(raw)[:2])
    for raw in redis_client.hvals(UNACKED):
        task_id, group_id, retry = _header_ids(raw)
        hits = wanted & {task_id, group_id}
        # handed to a worker: waiting there (prefetched, or a retry's countdown) until an execution
        # claims it; a claimed one has started, and its task beats the run's heartbeat
        if hits and not redis_client.exists(CLAIM_KEY.format(id=task_id, retry=retry) + ":deliveries"):
            found |= hits
    return found


def waiting(ids: Iterable[str]) -> set[str] | None:
    """Which of ``ids`` (task ids, or the group id every part of a chord carries) have a message
    that has not started yet: in a queue, or handed to a worker that has not begun it. Nothing of
    a run beats its heartbeat while its next step waits there, behind other work: such a run is
    waiting, not dead. Looked at twice a second apart where some are not found (a message moves
    from its queue to the unacked hash in two steps, a chord's last part sends the next step as it
    ends); None when that cannot be told (no Redis broker, Redis unreachable). Reads whole queues:
    for the workers' periodic sweep, never a web request."""
    wanted = {str(i) for i in ids if i}
    redis_client = client()
    if redis_client is None:
        return None
    try:
        found = _waiting_once(redis_client, wanted)
        if found != wanted:
            time.sleep(1.0)
            found |= _waiting_once(redis_client, wanted)
    except redis.RedisError:
        return None
    return found
