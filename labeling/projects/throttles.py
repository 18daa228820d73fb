"""Per-user throttles for API calls that cost the web process real work.

POST /api/projects/<slug>/predict/ encodes every text in the request thread: a member calling it
in a loop (or ten at once) kept every gunicorn thread busy and the pages of everyone else waited.
Its rate is LONGTAIL_PREDICT_RATE (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES["predict"]), counted per
user across projects in Django's cache (Redis when REDIS_URL is set, so every web worker counts
together)."""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class UserScopedRateThrottle(ScopedRateThrottle):
    """DRF's ScopedRateThrottle (the view's throttle_scope, counted per user) with the rate read
    when the request comes (DRF binds the rates when it is imported), and a cache that cannot be
    reached lets the request through: a Redis outage must not stop every API user."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("%s throttle skipped, the cache is unreachable: %s", self.scope, exc)
            return True
