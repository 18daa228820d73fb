"""The client address the throttles count by (security audit: any X-Forwarded-For header got its
own count, so the token endpoint's per-address limit never bit). Unless LONGTAIL_NUM_PROXIES says
how many proxies stand in front, the address is REMOTE_ADDR and the header is ignored; a value that
is not a whole number of at least 0 stops startup with a message naming the variable."""
import hashlib
import subprocess
import sys

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from labeling.projects.token_api import TokenIpThrottle, TokenUserThrottle
from tests.service_processes import ROOT

pytestmark = pytest.mark.django_db
CLIENT = "198.51.100.30"
PROXY = "10.0.0.2"
FORGED = [f"203.0.113.{i}" for i in range(40)]


@pytest.fixture
def clean_token_counts():
    idents = [CLIENT, PROXY, "198.51.100.31", *FORGED]  # the forged ones: what the old code counted by
    names = [f"guess{i}" for i in range(40)]
    keys = [TokenIpThrottle.cache_format % {"scope": "token_ip", "ident": i} for i in idents]
    keys += [TokenUserThrottle.cache_format % {"scope": "token_user", "ident": hashlib.sha256(n.encode()).hexdigest()}
             for n in names]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def token_attempt(username, remote_addr, forwarded_for=None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return APIClient().post("/api/auth/token/", {"username": username, "password": "wrong"}, format="json",
                            REMOTE_ADDR=remote_addr, **headers).status_code


def with_token_rates(settings, **extra):
    # The per-address default (30/minute); usernames counted loosely, so only the address limit bites.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **extra, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_user": "1000/minute", "token_ip": "30/minute"}}


def test_a_made_up_forwarded_for_header_does_not_escape_the_address_limit(clean_token_counts, settings):
    with_token_rates(settings)  # NUM_PROXIES as config/settings.py sets it with LONGTAIL_NUM_PROXIES unset
    answers = [token_attempt(f"guess{i}", CLIENT, forwarded_for=FORGED[i]) for i in range(35)]
    assert answers == [400] * 30 + [429] * 5
    assert token_attempt("guess35", "198.51.100.31") == 400  # another address is not held back


def test_behind_one_proxy_the_address_it_appends_is_counted(clean_token_counts, settings):
    # LONGTAIL_NUM_PROXIES=1: the proxy appends the client's address; what the client wrote before it is ignored.
    with_token_rates(settings, NUM_PROXIES=1)
    answers = [token_attempt(f"guess{i}", PROXY, forwarded_for=f"{FORGED[i]}, {CLIENT}") for i in range(31)]
    assert answers == [400] * 30 + [429]
    assert token_attempt("guess31", PROXY, forwarded_for="198.51.100.31") == 400  # another client, same proxy


def start_django(**env) -> subprocess.CompletedProcess:
    from tests.service_processes import service_env

    environment = {k: v for k, v in service_env(**env).items() if k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                           "'config.settings'); django.setup()"], cwd=ROOT, capture_output=True, text=True,
                          env=environment, timeout=120)


@pytest.mark.parametrize(("value", "message"), [
    ("one", "LONGTAIL_NUM_PROXIES must be a whole number, got 'one'"),
    ("-1", "LONGTAIL_NUM_PROXIES must be at least 0, got -1"),
])
def test_a_bad_proxy_count_stops_startup(value, message):
    started = start_django(LONGTAIL_NUM_PROXIES=value)
    assert started.returncode != 0 and message in started.stderr


def test_bad_predict_limits_stop_startup():
    started = start_django(LONGTAIL_PREDICT_RATE="ten a minute")
    assert started.returncode != 0
    assert "LONGTAIL_PREDICT_RATE must be a rate such as 10/minute" in started.stderr and "'ten a minute'" in started.stderr
    started = start_django(LONGTAIL_PREDICT_MAX_CHARS="0")
    assert started.returncode != 0 and "LONGTAIL_PREDICT_MAX_CHARS must be at least 1, got 0" in started.stderr
    assert start_django(LONGTAIL_NUM_PROXIES="2", LONGTAIL_PREDICT_RATE="100/hour").returncode == 0
