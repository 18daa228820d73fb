"""Bad input answers 400 (or an empty page), never 500: a confidence sort without an active model,
annotator_metadata null through a form body, NUL or a lone surrogate in annotator_metadata, and a
lone surrogate echoed back in any error message (replaced by U+FFFD so that the body is UTF-8).

Requests go through Django's test client with a lead's token, as a script would send them, and
with raise_request_exception off so that a server error shows as the 500 a client would get."""
import json

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from rest_framework.authtoken.models import Token

from labeling.projects.models import Project

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db
B = "/api/projects/alpha"
REPLACEMENT = "\ufffd"


@pytest.fixture
def lead(world):
    token = Token.objects.create(user=world["lead"])
    return Client(raise_request_exception=False, headers={"Authorization": f"Token {token.key}"})


def send_json(client, method, path, body):
    # json.dumps escapes a lone surrogate as \ud800, which the API's JSON parser turns back into one.
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def stored_metadata():
    return Project.objects.get(slug="alpha").annotator_metadata


# --- 1. confidence sort without an active model ----------------------------------------------------
@pytest.mark.parametrize("sort", ["confidence_desc", "confidence_asc"])
def test_confidence_sort_without_active_model_is_an_empty_page(world, lead, sort):
    for i in range(3):
        make_item(world["alpha"], f"unscored item {i}")
    response = lead.get(f"{B}/items/", {"sort": sort, "count": "true"})
    assert response.status_code == 200, response.content
    body = response.json()
    # The confidence orders list scored items only; with no active model nothing is scored.
    assert body["results"] == [] and body["count"] == 0 and body["next"] is None


def test_confidence_sort_page_without_active_model_says_why_it_is_empty(world):
    make_item(world["alpha"], "an unscored item")
    client = Client(raise_request_exception=False)
    client.force_login(world["lead"])
    response = client.get("/p/alpha/items/", {"sort": "confidence_desc"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="browse-empty"' in html and "no active model" in html


# --- 2. annotator_metadata null through a form body -----------------------------------------------
def test_form_encoded_null_metadata_is_400(world, lead):
    before = stored_metadata()
    response = lead.patch(f"{B}/", "annotator_metadata=null", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.content
    assert "annotator_metadata" in response.json()
    assert "null" in response.json()["annotator_metadata"][0]
    assert stored_metadata() == before
    # A list in the same form body is still taken.
    response = lead.patch(f"{B}/", "annotator_metadata=%5B%22customer%22%5D",
                          content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    assert stored_metadata() == ["customer"]


def test_multipart_null_metadata_is_400(world, lead):
    body = encode_multipart(BOUNDARY, {"annotator_metadata": "null"})
    response = lead.patch(f"{B}/", body, content_type=MULTIPART_CONTENT)
    assert response.status_code == 400, response.content
    assert "annotator_metadata" in response.json()


# --- 3. NUL or a lone surrogate in annotator_metadata ----------------------------------------------
@pytest.mark.parametrize(("meta", "words"), [
    (["a\x00"], "NUL"),
    (["customer", "\ud800"], "surrogate"),
    (["ok\udfffok"], "surrogate"),
])
def test_unstorable_metadata_field_name_is_400(world, lead, meta, words):
    before = stored_metadata()
    response = send_json(lead, "patch", f"{B}/", {"annotator_metadata": meta})
    assert response.status_code == 400, response.content
    message = response.json()["annotator_metadata"][0]
    assert "Metadata shown to annotators" in message and words in message
    assert stored_metadata() == before


# --- 4. a lone surrogate echoed back in an error message -------------------------------------------
SETTINGS_CHOICES = ["head", "head_loss", "calibration", "class_weights", "hierarchy_mode", "label_prior",
                    "threshold_mix"]


def assert_clean_400(response, field):
    assert response.status_code == 400, response.content
    response.content.decode("utf-8")  # strict: the body is valid UTF-8
    message = " ".join(str(m) for m in response.json()[field])
    assert REPLACEMENT in message
    return message


@pytest.mark.parametrize("field", SETTINGS_CHOICES)
def test_lone_surrogate_in_a_setting_choice_is_echoed_as_replacement(world, lead, field):
    message = assert_clean_400(send_json(lead, "patch", f"{B}/", {field: "caf\u00e9\ud800"}), field)
    # Other non-ASCII text stays readable: UTF-8 in the body, not a \u escape.
    assert "caf\u00e9" + REPLACEMENT in message
    assert "caf\u00e9".encode() in send_json(lead, "patch", f"{B}/", {field: "caf\u00e9\ud800"}).content


def test_lone_surrogate_in_settings_json_fields_is_quoted_safely(world, lead):
    not_a_list = send_json(lead, "patch", f"{B}/", {"annotator_metadata": "\ud800x"})
    assert not_a_list.status_code == 400, not_a_list.content
    # The model's message quotes the value escaped, as the importer does.
    assert "got \\ud800x." in not_a_list.json()["annotator_metadata"][0]
    assert_clean_400(send_json(lead, "patch", f"{B}/", {"strategy_mix": {"\ud800": 0.1}}), "strategy_mix")


def test_lone_surrogate_in_other_endpoints_is_echoed_as_replacement(world, lead):
    label = world["alpha"].labels.first()
    assert_clean_400(send_json(lead, "post", f"{B}/rules/", {"label": label.id, "kind": "\ud800", "pattern": "x"}),
                     "kind")
    assert_clean_400(send_json(lead, "post", f"{B}/rules/preview/", {"kind": "\ud800", "pattern": "x"}), "kind")
    assert_clean_400(send_json(lead, "post", f"{B}/members/", {"username": "ann", "role": "\ud800"}), "role")
    assert_clean_400(send_json(lead, "post", f"{B}/items/bulk/", {"action": "\ud800", "items": [1]}), "action")
    assert_clean_400(send_json(lead, "post", f"{B}/review/bulk/", {"action": "\ud800", "tasks": [1]}), "action")


def test_lone_surrogate_in_the_browsable_api_is_echoed_as_replacement(world, lead):
    response = lead.post(f"{B}/rules/preview/", json.dumps({"kind": "\ud800", "pattern": "x"}),
                         content_type="application/json", headers={"Accept": "text/html"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert REPLACEMENT in response.content.decode("utf-8")
