"""The API's smaller defects: the token endpoint is throttled (per username and per address, counted
in the configured cache: Redis in CI), tokens expire, a bad or expired token gets 401 (not 403),
members/ needs a role, the last lead cannot demote themselves, leases are capped at the project's
batch size, and the schema documents error answers and GET sources as a list."""
from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.projects.token_api import TokenIpThrottle, TokenUserThrottle

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Longtail-123"
ADDRESSES = ("198.51.100.7", "198.51.100.8", "203.0.113.9", "127.0.0.1")


@pytest.fixture
def clean_throttles():
    """The throttle counts live in the shared cache (Redis in CI): start and end with none of ours."""
    import hashlib

    def forget():
        keys = [TokenIpThrottle.cache_format % {"scope": "token_ip", "ident": a} for a in ADDRESSES]
        for name in ("lena", "ann", "nobody"):
            ident = hashlib.sha256(name.encode()).hexdigest()
            keys.append(TokenUserThrottle.cache_format % {"scope": "token_user", "ident": ident})
        cache.delete_many(keys)

    forget()
    yield
    forget()


def token_call(username, password, address="198.51.100.7"):
    return APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=address)


def test_password_guessing_is_throttled_per_username(world, clean_throttles, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "token_user": "10/minute", "token_ip": "30/minute"}}  # the defaults, whatever the environment says
    answers = [token_call("lena", f"guess-{i}", address=ADDRESSES[i % 3]).status_code for i in range(60)]
    assert answers[:10] == [400] * 10  # the first ten wrong passwords are just wrong
    assert set(answers[10:]) == {429}  # then the username is throttled, whatever address asks
    throttled = token_call("lena", PASSWORD, address="203.0.113.9")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["detail"].lower()
    # Another user is not locked out by lena's guesser (a fresh address, under its own limit).
    assert token_call("ann", PASSWORD, address="127.0.0.1").status_code == 200


def test_many_usernames_from_one_address_are_throttled(world, clean_throttles, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "token_user": "1000/minute", "token_ip": "5/minute"}}
    answers = [token_call(f"user{i}", "x", address="198.51.100.8").status_code for i in range(8)]
    assert answers == [400] * 5 + [429] * 3
    assert token_call("lena", PASSWORD, address="203.0.113.9").status_code == 200


def test_tokens_expire_and_are_replaced(world, clean_throttles, settings):
    settings.LONGTAIL_TOKEN_TTL_HOURS = 2
    issued = token_call("lena", PASSWORD)
    assert issued.status_code == 200
    key = issued.json()["token"]
    token = Token.objects.get(key=key)
    assert issued.json()["expires_at"].startswith((token.created + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/projects/").status_code == 200
    Token.objects.filter(key=key).update(created=token.created - timedelta(hours=2, seconds=1))
    expired = client.get("/api/projects/")
    assert expired.status_code == 401 and expired["WWW-Authenticate"] == "Token"
    assert "expired" in expired.json()["detail"] and "/api/auth/token/" in expired.json()["detail"]
    renewed = token_call("lena", PASSWORD)
    assert renewed.status_code == 200 and renewed.json()["token"] != key
    client.credentials(HTTP_AUTHORIZATION=f"Token {renewed.json()['token']}")
    assert client.get("/api/projects/").status_code == 200


def test_bad_or_missing_credentials_get_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    bad = client.get("/api/projects/alpha/")
    assert bad.status_code == 401 and bad["WWW-Authenticate"] == "Token"
    assert bad.json()["detail"] == "Invalid token."
    assert APIClient().get("/api/projects/alpha/").status_code == 401
    # A signed-in browser session still works, and still needs its CSRF token to write.
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(world["lead"])
    assert browser.get("/api/projects/alpha/").status_code == 200
    assert browser.patch("/api/projects/alpha/", {"wave_size": 30}, format="json").status_code == 403


def lead_client(world):
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def test_adding_a_member_without_role_is_400(world):
    response = lead_client(world).post("/api/projects/alpha/members/", {"username": "otto"}, format="json")
    assert response.status_code == 400 and "role" in response.json()
    assert not Membership.objects.filter(project=world["alpha"], user=world["outsider"]).exists()


def test_the_last_lead_cannot_demote_themselves(world):
    client = lead_client(world)
    own = Membership.objects.get(project=world["alpha"], user=world["lead"])
    refused = client.patch(f"/api/projects/alpha/members/{own.pk}/", {"role": "annotator"}, format="json")
    assert refused.status_code == 400 and "at least one lead" in refused.json()["role"][0]
    also = client.post("/api/projects/alpha/members/", {"username": "lena", "role": "annotator"}, format="json")
    assert also.status_code == 400
    assert Membership.objects.get(pk=own.pk).role == "lead"
    other = Membership.objects.get(project=world["alpha"], user=world["annotator"])
    assert client.patch(f"/api/projects/alpha/members/{other.pk}/", {"role": "lead"}, format="json").status_code == 200
    stepped_down = client.patch(f"/api/projects/alpha/members/{own.pk}/", {"role": "annotator"}, format="json")
    assert stepped_down.status_code == 200 and stepped_down.json()["role"] == "annotator"


def test_lease_size_is_capped_at_the_batch_size(world):
    alpha = world["alpha"]
    alpha.batch_size = 5
    alpha.save()
    client = APIClient()
    client.force_authenticate(world["annotator"])
    too_many = client.post("/api/projects/alpha/batches/", {"size": 6}, format="json")
    assert too_many.status_code == 400 and too_many.json()["field"] == "size"
    assert "batch size (5)" in too_many.json()["detail"]
    assert client.post("/api/projects/alpha/batches/", {"size": 5}, format="json").status_code == 200
    assert client.post("/api/projects/alpha/batches/", {"size": 501}, format="json").status_code == 400


def test_schema_documents_error_answers_and_sources(world):
    client = lead_client(world)
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    codes = lambda path, method: set(paths[path][method]["responses"])  # noqa: E731
    assert {"200", "400", "429"} <= codes("/api/auth/token/", "post") and "401" not in codes("/api/auth/token/", "post")
    assert {"201", "400", "401", "403", "404"} <= codes("/api/projects/{slug}/members/", "post")
    assert {"200", "401", "404"} <= codes("/api/projects/{slug}/sources/", "get")
    assert "403" not in codes("/api/projects/{slug}/sources/", "get")  # members read sources
    assert {"401", "403", "404"} <= codes("/api/projects/{slug}/dashboard/", "get")  # leads only
    assert "409" in codes("/api/projects/{slug}/annotations/", "post")
    assert "409" in codes("/api/projects/{slug}/waves/plan/", "post")
    assert "202" in codes("/api/projects/{slug}/imports/", "post")
    sources = paths["/api/projects/{slug}/sources/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert sources["type"] == "array" and sources["items"]["$ref"].endswith("/Source")
    error = paths["/api/projects/{slug}/"]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/Error")


def test_sources_put_without_quota_is_400(world):
    """Found by the schemathesis run: a source without quota reached the service (KeyError, 500)."""
    response = lead_client(world).put("/api/projects/alpha/sources/", [{"name": "email"}], format="json")
    assert response.status_code == 400 and "quota" in response.json()["0"]  # row 0 names the field
    assert lead_client(world).options("/api/projects/alpha/sources/").status_code == 200  # was 500 too


def test_the_members_page_also_keeps_the_last_lead(client, world):
    client.force_login(world["lead"])
    page = client.post("/p/alpha/members/", {"username": "lena", "role": "annotator"})
    assert page.status_code == 200 and "at least one lead" in page.content.decode()
    assert Membership.objects.get(project=world["alpha"], user=world["lead"]).role == "lead"
