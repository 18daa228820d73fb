"""Per-user throttles for API calls that cost the web process real work.

POST /api/projects/<slug>/predict/ encodes every text in the request thread: a member calling it
in a loop (or ten at once) kept every gunicorn thread busy and the pages of everyone else waited.
Its rate is LONGTAIL_PREDICT_RATE (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES["predict"]), counted per
user across projects in Django's cache (Redis when REDIS_URL is set, so every web worker counts
together), and one user's calls run one at a time (``one_call_at_a_time``): a rate over a minute
still let ten calls sent at once take ten threads."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class LiveRateThrottle:
    """For a DRF throttle class: the rate is read when the request comes (DRF binds the rates when
    it is imported, so a changed setting would not reach it), and a cache that cannot be reached
    lets the request through: a Redis outage must not stop every API user. Shared by the predict
    throttle and the token / sign-in throttles (labeling.projects.token_api)."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("%s throttle skipped, the cache is unreachable: %s", self.scope, exc)
            return True


class UserScopedRateThrottle(LiveRateThrottle, ScopedRateThrottle):
    """DRF's ScopedRateThrottle (the view's throttle_scope, counted per user), read live."""


# A call that never ends (its process killed) frees its user after this long; a call within the
# caps takes well under a minute (docs/operations.md, "Limits on API requests").
RUNNING_CALL_SECONDS = 300


@contextmanager
def one_call_at_a_time(scope: str, user) -> Iterator[None]:
    """Refuse (429) a user's call while another of their ``scope`` calls runs, on any web worker
    (the mark is in the shared cache). A cache that cannot be reached lets the call through."""
    key = f"running_{scope}_{user.pk}"
    try:
        started = cache.add(key, 1, timeout=RUNNING_CALL_SECONDS)
    except (RedisError, OSError) as exc:
        logger.warning("%s one-at-a-time check skipped, the cache is unreachable: %s", scope, exc)
        started, key = True, None
    if not started:
        raise Throttled(detail=f"Your previous {scope} call is still running: one call at a time per user. "
                               "Send this one once it has answered.")
    try:
        yield
    finally:
        if key is not None:
            try:
                cache.delete(key)
            except (RedisError, OSError) as exc:  # it expires by itself
                logger.warning("could not clear %s after a %s call: %s", key, scope, exc)
