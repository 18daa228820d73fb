"""``/healthz``: whether this web process can do its work, for a load balancer's or an
orchestrator's probe (unauthenticated, never redirected to https: config.settings). It asks the
database (SELECT 1) and the broker (a Redis PING, LONGTAIL_BROKER_TIMEOUT_SECONDS at the least a
second) and answers 200 when both answer, 503 naming the one that does not. Before, it answered
200 {"ok": true} whatever was down, so a probe kept sending users to a server that could only
answer 500. What failed goes to the log, not into the body, which anyone can read."""
from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from labeling.loop.broker import client as broker_client

logger = logging.getLogger(__name__)
OK, DOWN = "ok", "down"
# The demo (no REDIS_URL) runs tasks in the web process: there is no broker to be down.
NO_BROKER = "none: eager mode, tasks run in the web process"
NOT_REDIS = "not checked: the broker is not Redis"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("healthz: the database did not answer", exc_info=True)
        connection.close()  # the next request connects afresh
        return DOWN
    return OK


def broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return NO_BROKER
    client = broker_client()
    if client is None:
        return NOT_REDIS
    try:
        client.ping()
    except redis.RedisError:
        logger.warning("healthz: the broker (Redis) did not answer", exc_info=True)
        return DOWN
    return OK


@never_cache
def healthz(request):
    checks = {"database": database_state(), "broker": broker_state()}
    down = [name for name, state in checks.items() if state == DOWN]
    return JsonResponse({"ok": not down, **checks, "down": down}, status=503 if down else 200)
