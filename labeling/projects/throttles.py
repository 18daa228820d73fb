"""Per-user throttles for API calls that cost the web process real work.

POST /api/projects/<slug>/predict/ encodes every text in the request thread: a member calling it
in a loop (or ten at once) kept every gunicorn thread busy and the pages of everyone else waited.
Its rate is LONGTAIL_PREDICT_RATE (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES["predict"]), counted per
user across projects in Django's cache (Redis when REDIS_URL is set, so every web worker counts
together), and one user's calls run one at a time (``one_call_at_a_time``): a rate over a minute
still let ten calls sent at once take ten threads. A call refused because the previous one still runs
answers 429 with Retry-After and is taken back off the rate (DRF counted it before the view ran): a
client that waits and retries must not use its rate up on refusals.

The predict throttle and the sign-in throttles (labeling.projects.token_api) count with
``AtomicRateThrottle``: a call (or a password guess) sent together with others must be counted
before any of them is let through."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

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


# DRF's sliding window, kept in Redis as a list of call times (newest first) and checked and added
# to in one step: Redis runs a script to its end before any other command.
# KEYS[1]: the window; ARGV: the call's time, the period in seconds, the calls allowed in it.
_SLIDING_WINDOW_SCRIPT = """
local key, now, period, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- A value of another type (DRF's pickled list, from before counting was atomic) is dropped.
local kind = redis.call('TYPE', key)['ok']
if kind ~= 'list' and kind ~= 'none' then redis.call('DEL', key) end
while true do
  local oldest = redis.call('LINDEX', key, -1)
  if not oldest or tonumber(oldest) > now - period then break end
  redis.call('RPOP', key)
end
local allowed = 0
if redis.call('LLEN', key) < limit then
  redis.call('LPUSH', key, ARGV[1])
  redis.call('EXPIRE', key, period)
  allowed = 1
end
return {allowed, redis.call('LRANGE', key, 0, -1)}
"""
# Other caches (the in-process one of runs without REDIS_URL) count under this lock: their get and
# set are each safe, the two together are not.
_LOCAL_COUNT_LOCK = threading.Lock()


def _redis_client(backend: RedisCache, key: str):
    """(the cache's own key for ``key``, a Redis client): Django's Redis cache offers no script or
    list call of its own; its client is the one connection pool every cache call of this process uses."""
    raw_key = backend.make_and_validate_key(key)
    return raw_key, backend._cache.get_client(raw_key, write=True)


class AtomicRateThrottle(SimpleRateThrottle):
    """DRF's SimpleRateThrottle (the times of the calls of the last period, newest first; the same
    cache key, rate and wait()), with the window read, checked and written in one step. DRF reads
    it from the cache and writes it back separately, so calls sent at once each read the same window
    and all passed: an audit's 60 wrong passwords sent at once against a 10/minute limit had 11 to
    17 checked. On Redis one script counts for every web worker; on another cache a process lock
    (exact within the process, which is all that cache is shared by)."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        backend = caches[DEFAULT_CACHE_ALIAS]
        if isinstance(backend, RedisCache):
            return self._count_in_redis(backend)
        with _LOCAL_COUNT_LOCK:
            return super().allow_request(request, view)

    def _count_in_redis(self, backend: RedisCache) -> bool:
        self.now = self.timer()
        key, client = _redis_client(backend, self.key)
        allowed, history = client.register_script(_SLIDING_WINDOW_SCRIPT)(
            keys=[key], args=[repr(self.now), self.duration, self.num_requests])
        self.history = [float(stamp) for stamp in history]  # what wait() reads, as DRF's own
        return bool(allowed)


class UserScopedRateThrottle(LiveRateThrottle, ScopedRateThrottle, AtomicRateThrottle):
    """DRF's ScopedRateThrottle (the view's throttle_scope, counted per user), read live, each call
    counted in one step (AtomicRateThrottle). Counted apart, calls sent in pairs each read the
    same window: one was recorded, the one refused because the other still ran was taken back
    off, and the call that ran was counted by neither, so pairs ran without limit."""

    def refund(self, request, view) -> None:
        """Take one call back off the request's count: the view refused it after this throttle had
        let it through (and counted it). The newest entry goes (DRF keeps them newest first): this
        call's, or one as recent, the same count either way."""
        self.scope = getattr(view, self.scope_attr, None)
        rate = self.get_rate() if self.scope else None
        if rate is None:  # not throttled: nothing was counted
            return
        _, duration = self.parse_rate(rate)
        key = self.get_cache_key(request, view)
        backend = caches[DEFAULT_CACHE_ALIAS]
        try:
            if isinstance(backend, RedisCache):  # the window is the counting script's list
                raw_key, client = _redis_client(backend, key)
                client.lpop(raw_key)
                return
            with _LOCAL_COUNT_LOCK:
                history = self.cache.get(key, [])
                if history:
                    self.cache.set(key, history[1:], duration)
        except (RedisError, OSError) as exc:  # the call stays counted; it expires with the rate's period
            logger.warning("%s throttle could not take a refused call back: %s", self.scope, exc)


def refund_rate(request, view) -> None:
    """Take a call the view refused back off its per-user rate counts."""
    for throttle in view.get_throttles():
        if isinstance(throttle, UserScopedRateThrottle):
            throttle.refund(request, view)


# A call that never ends (its process killed) frees its user after this long; a call within the
# caps takes well under a minute (docs/operations.md, "Limits on API requests").
RUNNING_CALL_SECONDS = 300
# Retry-After of a call refused while the previous one runs: most calls answer within seconds.
RUNNING_CALL_RETRY_SECONDS = 5


class PreviousCallRunning(Throttled):
    """429 for a call sent while the same user's previous ``scope`` call runs. The detail says why
    (not DRF's "Expected available in ..."); ``wait`` gives the Retry-After header."""

    def __init__(self, scope: str):
        super().__init__(detail=f"Your previous {scope} call is still running: one call at a time per user. "
                                "Send this one once it has answered.")
        self.wait = RUNNING_CALL_RETRY_SECONDS


@contextmanager
def one_call_at_a_time(scope: str, user, *, on_refusal: Callable[[], None] | None = None) -> Iterator[None]:
    """Refuse (429, PreviousCallRunning) a user's call while another of their ``scope`` calls runs,
    on any web worker (the mark is in the shared cache); ``on_refusal`` runs first (a view passes
    ``refund_rate``). A cache that cannot be reached lets the call through."""
    key = f"running_{scope}_{user.pk}"
    try:
        started = cache.add(key, 1, timeout=RUNNING_CALL_SECONDS)
    except (RedisError, OSError) as exc:
        logger.warning("%s one-at-a-time check skipped, the cache is unreachable: %s", scope, exc)
        started, key = True, None
    if not started:
        if on_refusal is not None:
            on_refusal()
        raise PreviousCallRunning(scope)
    try:
        yield
    finally:
        if key is not None:
            try:
                cache.delete(key)
            except (RedisError, OSError) as exc:  # it expires by itself
                logger.warning("could not clear %s after a %s call: %s", key, scope, exc)
