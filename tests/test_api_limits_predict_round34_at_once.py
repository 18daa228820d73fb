"""Predict calls sent together are each counted: a client sending its calls in pairs used to run
without limit. Both calls of a pair read the same count and only one was recorded; the call
refused because the other still ran (429, one call at a time) was taken back off, so the call that
ran was counted by neither. Real requests on threads, each with its own database connection,
counted in Redis (its reads made a little slower, so that the calls of a pair interleave as
on a busy server). The project has no model, so a call that runs answers 409."""
import time
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.projects.throttles import UserScopedRateThrottle

from .test_api_limits_predict import client_for, predict, with_predict_rate
from .test_throttle_round33_concurrent import all_at_once

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = getattr(django_settings, "REDIS_URL", "")


class RoundTripRedisCache(RedisCache):
    """The Redis cache, whose reads let other threads run before their answer comes back, as a
    busy network's round trip does: calls then interleave inside a throttle's read and write."""

    def get(self, key, default=None, version=None):
        value = super().get(key, default, version)
        time.sleep(0.002)
        return value


@pytest.fixture
def slow_redis(settings):
    if not REDIS_URL:
        pytest.skip("needs the Redis cache: set REDIS_URL=redis://…")
    settings.CACHES = {"default": {**settings.CACHES["default"], "BACKEND": f"{__name__}.RoundTripRedisCache"}}


@pytest.fixture
def annotator(make_user, project_factory):
    project = project_factory("alpha")
    user = make_user("ann")
    Membership.objects.create(user=user, project=project, role=Membership.ANNOTATOR)
    key = UserScopedRateThrottle.cache_format % {"scope": "predict", "ident": user.pk}
    cache.delete(key)
    yield user
    cache.delete(key)


def test_calls_sent_in_pairs_stop_at_the_rate(slow_redis, annotator, settings, postgres_only):
    with_predict_rate(settings, "4/minute")
    token = client_for(annotator)._credentials["HTTP_AUTHORIZATION"]
    pair = [APIClient(), APIClient()]
    for client in pair:
        client.credentials(HTTP_AUTHORIZATION=token)
    answers = Counter()
    for _ in range(20):  # 40 calls, in pairs
        answers += all_at_once([lambda client=client: predict(client, ["where is my refund"]) for client in pair])
    assert answers == {409: 4, 429: 36}  # ran: the rate, not more
    assert predict(pair[0], ["one more"]).status_code == 429
