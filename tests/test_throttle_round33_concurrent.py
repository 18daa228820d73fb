"""Sign-in attempts sent at once are counted one by one: the per-username and per-address throttles
of POST /api/auth/token/ and of the sign-in forms let at most their limit through, however many
come together. Real requests on threads (each with its own database connection), counted in the
real cache: Redis when REDIS_URL is set, and the in-process cache of runs without it.

Before, each throttle read its count from the cache and wrote it back separately, so attempts
that came together all read the same count: 60 wrong passwords sent at once for one account had
their password checked 11 to 17 times against a limit of 10."""
import threading
import time
from collections import Counter

import pytest
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client
from rest_framework.test import APIClient

from .db_threads import in_thread

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-Longtail-123"
ADDRESS = "198.51.100.40"


class CountingModelBackend(ModelBackend):
    """Django's own backend, counting the passwords it is asked to check: the number the throttles bound."""

    checked = 0
    lock = threading.Lock()

    def authenticate(self, request, username=None, password=None, **kwargs):
        with CountingModelBackend.lock:
            CountingModelBackend.checked += 1
        return super().authenticate(request, username=username, password=password, **kwargs)


@pytest.fixture
def rates(settings):
    """Sets the sign-in rates whatever the environment says, and counts the password checks."""
    CountingModelBackend.checked = 0
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.CountingModelBackend"]

    def set_rates(user, ip):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": None,
                                   "DEFAULT_THROTTLE_RATES": {"token_user": user, "token_ip": ip}}

    return set_rates


@pytest.fixture
def redis_cache():
    if not (hasattr(cache, "_cache") and hasattr(cache._cache, "get_client")):
        pytest.skip("needs the Redis cache: set REDIS_URL=redis://…")


class RoundTripLocMemCache(LocMemCache):
    """The in-process cache, whose reads let other threads run before their answer comes back, as a
    network cache's round trip does: attempts then interleave inside the throttle's steps as they do
    between busy web threads."""

    def get(self, key, default=None, version=None):
        value = super().get(key, default, version)
        time.sleep(0.001)  # the answer on its way back
        return value


@pytest.fixture
def local_cache(settings):
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.RoundTripLocMemCache", "LOCATION": "sign-in-race"}}
    cache.clear()
    yield
    cache.clear()


def token_request(username, password, address=ADDRESS):
    return APIClient().post("/api/auth/token/", {"username": username, "password": password},
                            format="json", REMOTE_ADDR=address)


def form_request(username, password, address=ADDRESS):
    return Client().post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def all_at_once(attempts) -> Counter:
    """Runs each attempt (a callable returning a response) on its own thread, all released together;
    the count of each status."""
    barrier = threading.Barrier(len(attempts))

    def released(attempt):
        barrier.wait(30)
        return attempt().status_code

    runs = [in_thread(released, attempt) for attempt in attempts]
    for thread, _ in runs:
        thread.join(60)
    errors = [outcome["error"] for _, outcome in runs if "error" in outcome]
    assert not errors, errors
    return Counter(outcome["result"] for _, outcome in runs)


def wrong_token_guesses(n, username="lena"):
    return [lambda i=i: token_request(username, f"wrong-{i}") for i in range(n)]


def test_wrong_passwords_at_once_for_one_account_stop_at_the_limit(world, rates, redis_cache, postgres_only):
    rates(user="10/minute", ip="1000/minute")
    answers = all_at_once(wrong_token_guesses(60))
    assert answers == {400: 10, 429: 50}
    assert CountingModelBackend.checked == 10
    # The right password, from another address, is refused as well: the account's ten are used.
    assert token_request("lena", PASSWORD, address="203.0.113.40").status_code == 429
    assert token_request("ann", PASSWORD).status_code == 200


def test_attempts_at_once_from_one_address_stop_at_the_limit(world, rates, redis_cache, postgres_only):
    rates(user="1000/minute", ip="30/minute")
    answers = all_at_once([lambda i=i: token_request(f"guess{i}", "x") for i in range(80)])
    assert answers == {400: 30, 429: 50}
    assert CountingModelBackend.checked == 30
    refused = token_request("ann", PASSWORD)
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert token_request("ann", PASSWORD, address="203.0.113.41").status_code == 200


def test_the_sign_in_form_and_the_token_endpoint_at_once_share_one_limit(world, rates, redis_cache, postgres_only):
    rates(user="10/minute", ip="1000/minute")
    forms = [lambda i=i: form_request("lena", f"wrong-{i}") for i in range(30)]
    answers = all_at_once(forms + wrong_token_guesses(30))
    # A wrong password gives the form again (200) or a 400 from the endpoint; a refusal a 429.
    assert answers[200] + answers[400] == 10 and answers[429] == 50
    assert CountingModelBackend.checked == 10
    client = Client()
    refused = client.post("/accounts/login/", {"username": "lena", "password": PASSWORD}, REMOTE_ADDR="203.0.113.42")
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many sign-in attempts for this account; try again in" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 60


def test_the_in_process_cache_counts_attempts_at_once_one_by_one(world, rates, local_cache, postgres_only):
    rates(user="10/minute", ip="1000/minute")
    assert all_at_once(wrong_token_guesses(60)) == {400: 10, 429: 50}
    rates(user="1000/minute", ip="30/minute")
    attempts = [lambda i=i: token_request(f"guess{i}", "x", address="203.0.113.43") for i in range(60)]
    assert all_at_once(attempts) == {400: 30, 429: 30}
    assert CountingModelBackend.checked == 40
