"""Request bodies the API cannot read answer JSON, not a 500 or Django's HTML "Bad Request (400)"
(security audit): JSON nested past Python's recursion limit is a 400 like other malformed JSON
(config/parsers.py), and a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 that gives the limit
(config/api_errors.py). Real requests through the test client, nothing patched."""
import json
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.projects.token_api import TokenIpThrottle

pytestmark = pytest.mark.django_db
ADDRESS = "198.51.100.40"
NESTED = '{"username":' + "[" * 5000 + "]" * 5000 + "}"
NESTED_TOO_DEEPLY = "JSON parse error - malformed JSON: nested too deeply."
LIMIT = "5,242,880 bytes (5.0 MiB)"


@pytest.fixture
def clean_address():
    key = TokenIpThrottle.cache_format % {"scope": "token_ip", "ident": ADDRESS}
    cache.delete(key)
    yield
    cache.delete(key)


@pytest.fixture
def lead_client(make_user, project_factory):
    alpha = project_factory("alpha")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=alpha, role=Membership.LEAD)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=lead).key}")
    return client


def too_big_json() -> str:
    # Valid JSON for the endpoint, just more of it than the API reads (5 MiB by default).
    return json.dumps({"action": "review", "items": list(range(1, 800_001))})


def test_deeply_nested_json_to_the_token_endpoint_is_a_400(clean_address):
    response = APIClient(raise_request_exception=False).post(
        "/api/auth/token/", NESTED, content_type="application/json", REMOTE_ADDR=ADDRESS)
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"detail": NESTED_TOO_DEEPLY}


def test_deeply_nested_json_to_a_project_endpoint_is_a_400(lead_client):
    response = lead_client.post("/api/projects/alpha/items/bulk/", '{"action": "review", "items":'
                                + "[" * 5000 + "]" * 5000 + "}", content_type="application/json")
    assert response.status_code == 400 and response.json() == {"detail": NESTED_TOO_DEEPLY}


def test_a_json_body_over_the_limit_is_a_json_413(lead_client):
    body = too_big_json()
    assert len(body) > 5 * 2**20
    response = lead_client.post("/api/projects/alpha/items/bulk/", body, content_type="application/json")
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert LIMIT in response.json()["detail"]


def test_a_form_body_over_the_limit_is_a_json_413(lead_client):
    body = "action=review&" + "&".join(f"items={i}" for i in range(1, 700_001))
    assert len(body) > 5 * 2**20
    response = lead_client.post("/api/projects/alpha/items/bulk/", body,
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and LIMIT in response.json()["detail"]


def test_an_unauthenticated_body_over_the_limit_is_a_json_413(clean_address):
    body = json.dumps({"username": "x" * (5 * 2**20), "password": "y"})
    response = APIClient(raise_request_exception=False).post(
        "/api/auth/token/", body, content_type="application/json", REMOTE_ADDR=ADDRESS)
    assert response.status_code == 413 and LIMIT in response.json()["detail"]


def test_the_browsable_api_answers_the_413_too(lead_client):
    response = lead_client.post("/api/projects/alpha/items/bulk/", too_big_json(), content_type="application/json",
                                HTTP_ACCEPT="text/html")
    assert response.status_code == 413
    assert b"5,242,880 bytes" in response.content


def test_a_form_with_too_many_fields_is_a_json_400(lead_client):
    # Django reads at most DATA_UPLOAD_MAX_NUMBER_FIELDS fields (sized for the labels page's rows).
    body = "action=review&" + "&".join(f"items={i}" for i in range(1, settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = lead_client.post("/api/projects/alpha/items/bulk/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The form is refused: The number of GET/POST parameters exceeded")


@pytest.mark.parametrize("levels", [100, 5000])
def test_nesting_is_refused_even_where_a_library_raised_the_recursion_limit(lead_client, levels):
    """The refusal does not depend on the interpreter's recursion limit, which a library loaded in
    the same process may raise (it did in one test process, and 5,000 levels then parsed)."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 50_000))
    try:
        response = lead_client.post("/api/projects/alpha/items/bulk/", '{"action": "review", "items":'
                                    + "[" * levels + "]" * levels + "}", content_type="application/json")
    finally:
        sys.setrecursionlimit(before)
    assert response.status_code == 400 and response.json() == {"detail": NESTED_TOO_DEEPLY}
