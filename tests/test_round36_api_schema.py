"""The OpenAPI schema says what the API answers: a pick's inclusion_prob may be null (ranked picks,
pins, the fill), the undo's 409, the new project's settings, the answers' superseded flag."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(world):
    client = APIClient()
    client.force_authenticate(world["lead"])
    reply = client.get("/api/schema/?format=json")
    assert reply.status_code == 200
    return reply.json()


def test_pick_inclusion_prob_is_nullable(schema):
    assert schema["components"]["schemas"]["Pick"]["properties"]["inclusion_prob"].get("nullable") is True


def test_undo_documents_its_409(schema):
    responses = schema["paths"]["/api/projects/{slug}/annotations/undo/"]["post"]["responses"]
    assert "409" in responses and "200" in responses


def test_strategy_filter_is_an_enum(schema):
    params = schema["paths"]["/api/projects/{slug}/items/"]["get"]["parameters"]
    strategy = next(p for p in params if p["name"] == "strategy")
    assert {"rare", "label_names", "random", "fill", "pinned"} <= set(strategy["schema"]["enum"])


def test_project_creation_takes_settings(schema):
    create = schema["components"]["schemas"]["ProjectCreate"]["properties"]
    assert {"slug", "name", "labels", "wave_size", "strategy_mix"} <= set(create)


def test_annotation_reply_has_superseded(schema):
    props = schema["components"]["schemas"]["Annotation"]["properties"]
    assert props["undone"]["type"] == "boolean" and props["superseded"]["type"] == "boolean"


def test_export_documents_its_400(schema):
    responses = schema["paths"]["/api/projects/{slug}/export/{fmt}/"]["get"]["responses"]
    assert "400" in responses and "200" in responses and "404" in responses
