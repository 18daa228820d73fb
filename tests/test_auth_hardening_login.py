"""The sign-in forms are throttled like POST /api/auth/token/ (per username and per client address,
in the same cache entries: Redis in CI), with real POSTs to /accounts/login/ and /admin/login/."""
import hashlib

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from labeling.projects.token_api import TokenIpThrottle, TokenUserThrottle

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Longtail-123"
ADDRESSES = ["198.51.100.20", "198.51.100.21", "198.51.100.22", "203.0.113.20", "203.0.113.21", "127.0.0.1"]
USERNAMES = ["lena", "ann", "root", "otto", "nobody", *(f"user{i}" for i in range(8))]


def user_key(name):
    return TokenUserThrottle.cache_format % {"scope": "token_user", "ident": hashlib.sha256(name.encode()).hexdigest()}


@pytest.fixture
def rates(settings):
    """Sets the throttle rates (and NUM_PROXIES) for the test, whatever the environment says, and starts
    and ends with none of the test's counts in the shared cache."""

    def forget():
        keys = [user_key(name) for name in USERNAMES]
        keys += [TokenIpThrottle.cache_format % {"scope": "token_ip", "ident": address} for address in ADDRESSES]
        cache.delete_many(keys)

    def set_rates(user="10/minute", ip="30/minute", num_proxies=None):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies,
                                   "DEFAULT_THROTTLE_RATES": {"token_user": user, "token_ip": ip}}
        forget()

    yield set_rates
    forget()


def sign_in(username, password, address="198.51.100.20", path="/accounts/login/", **headers):
    client = Client()
    response = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)
    return client, response


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_site_form_stops_guessing_one_account(world, rates):
    rates(user="10/minute", ip="30/minute")
    answers = [sign_in("lena", f"guess-{i}", address=ADDRESSES[i % 5])[1] for i in range(40)]
    assert [a.status_code for a in answers[:10]] == [200] * 10  # wrong password: the form again
    assert "didn't match" in answers[0].content.decode()
    assert {a.status_code for a in answers[10:]} == {429}
    refused = answers[-1]
    text = refused.content.decode()
    assert "Too many sign-in attempts for this account; try again in" in text and "seconds" in text
    assert 0 < int(refused["Retry-After"]) <= 60
    assert 'name="password"' in text  # the form page itself, not a bare error
    # The right password, from yet another address, is refused too: no password is checked now.
    client, right = sign_in("lena", PASSWORD, address="127.0.0.1")
    assert right.status_code == 429 and not signed_in(client)
    # Other accounts sign in as before.
    client, other = sign_in("ann", PASSWORD, address="127.0.0.1")
    assert other.status_code == 302 and signed_in(client)


def test_the_admin_form_is_throttled_and_shares_the_token_endpoints_counts(world, rates):
    rates(user="10/minute", ip="1000/minute")
    for i in range(4):
        token = APIClient().post("/api/auth/token/", {"username": "root", "password": f"guess-{i}"},
                                 format="json", REMOTE_ADDR="198.51.100.21")
        assert token.status_code == 400
    for i in range(3):
        assert sign_in("root", f"guess-{i}")[1].status_code == 200
    for i in range(3):
        assert sign_in("root", f"guess-{i}", path="/admin/login/")[1].status_code == 200
    # Ten guesses in all, made three ways: the eleventh is refused whichever way it comes.
    client, refused = sign_in("root", PASSWORD, path="/admin/login/", address="203.0.113.21")
    assert refused.status_code == 429 and not signed_in(client) and int(refused["Retry-After"]) > 0
    assert "Too many sign-in attempts for this account; try again in" in refused.content.decode()
    assert 'name="password"' in refused.content.decode()
    token = APIClient().post("/api/auth/token/", {"username": "root", "password": PASSWORD},
                             format="json", REMOTE_ADDR="203.0.113.20")
    assert token.status_code == 429
    client, other = sign_in("ann", PASSWORD)
    assert other.status_code == 302 and signed_in(client)


def test_many_usernames_from_one_address_are_stopped(world, rates):
    rates(user="1000/minute", ip="5/minute")
    answers = [sign_in(f"user{i}", "x", address="198.51.100.22")[1].status_code for i in range(5)]
    assert answers == [200] * 5
    client, refused = sign_in("lena", PASSWORD, address="198.51.100.22")
    assert refused.status_code == 429 and not signed_in(client)
    assert "Too many sign-in attempts from this address; try again in" in refused.content.decode()
    client, elsewhere = sign_in("lena", PASSWORD, address="203.0.113.20")
    assert elsewhere.status_code == 302 and signed_in(client)


def test_forwarded_for_counts_only_behind_configured_proxies(world, rates):
    rates(user="1000/minute", ip="3/minute", num_proxies=0)
    # No proxy configured: a made-up X-Forwarded-For does not make a new client.
    answers = [sign_in("nobody", "x", address="198.51.100.20", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")[1].status_code
               for i in range(4)]
    assert answers == [200, 200, 200, 429]

    rates(user="1000/minute", ip="3/minute", num_proxies=1)
    # One proxy: the address it appended is the client, the rest of the header is the client's say.
    proxy = "127.0.0.1"
    for i in range(3):
        assert sign_in("nobody", "x", address=proxy, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 198.51.100.21")[1].status_code == 200
    assert sign_in("nobody", "x", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.21")[1].status_code == 429
    # The token endpoint tells clients apart the same way, in the same counts.
    token = APIClient().post("/api/auth/token/", {"username": "nobody", "password": "x"}, format="json",
                             REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.21")
    assert token.status_code == 429
    client, other = sign_in("ann", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.22")
    assert other.status_code == 302 and signed_in(client)


def test_an_unreachable_cache_lets_people_sign_in(world, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    client, response = sign_in("lena", PASSWORD)
    assert response.status_code == 302 and signed_in(client)
