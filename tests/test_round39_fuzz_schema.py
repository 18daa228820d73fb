"""Answers the API gives that its own OpenAPI schema (/api/schema/) does not document: a client
generated from the schema cannot read them."""
import jsonschema
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Membership


def client_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def documented(api, path: str, method: str) -> tuple[dict, dict]:
    schema = api.get("/api/schema/?format=json").json()
    return schema, schema["paths"][path][method]["responses"]


def body_schema(schema: dict, response: dict) -> dict:
    """The response's JSON schema, with the document's components reachable for $ref."""
    return {**response["content"]["application/json"]["schema"], "components": schema["components"]}


@pytest.mark.parametrize("body", [{}, {"action": "dismiss", "tasks": "1"}, {"action": "accept", "tasks": [], "x": 1}])
def test_review_bulk_400_matches_its_documented_body(world, body):
    """The schema documents review/bulk's 400 as the Error body (`detail` required); a field check
    answered DRF's field-keyed body (`{"action": ["This field is required."]}`) instead."""
    api = client_for(world["lead"])
    schema, responses = documented(api, "/api/projects/{slug}/review/bulk/", "post")
    answer = api.post("/api/projects/alpha/review/bulk/", body, format="json")
    assert answer.status_code == 400
    jsonschema.validate(answer.json(), body_schema(schema, responses["400"]))


def test_history_documents_the_removed_members_403(world):
    """A removed member who answered items of the project gets 403 "You are no longer a member …" on
    annotations/history/ (as on the other annotating endpoints, which document it); the schema lists
    only 200, 400, 401 and 404 for it."""
    alpha, annotator = world["alpha"], world["annotator"]
    item = Item.objects.create(project=alpha, text="card stolen", text_hash="h1")
    Annotation.objects.create(project=alpha, item=item, annotator=annotator,
                              label=Label.objects.filter(project=alpha).first())
    Membership.objects.filter(project=alpha, user=annotator).delete()
    api = client_for(annotator)
    answer = api.get("/api/projects/alpha/annotations/history/")
    assert answer.status_code == 403, answer.content
    _, responses = documented(api, "/api/projects/{slug}/annotations/history/", "get")
    assert "403" in responses, sorted(responses)


def test_export_of_a_pruned_version_answers_a_documented_status(world):
    """``export/model/?version=N`` of a version prune_models pruned answers 410 ("… was pruned …; its
    files are gone"); the schema documents 200, 400, 401, 403, 404 and 409 (409: "no stored
    artifact", the reason this is), not 410, and the README's list of codes has no 410 either."""
    from django.utils import timezone

    from labeling.modeling.models import ModelVersion

    ModelVersion.objects.create(project=world["alpha"], number=1, state=ModelVersion.RETIRED,
                                finished_at=timezone.now(), pruned_at=timezone.now())
    api = client_for(world["lead"])
    answer = api.get("/api/projects/alpha/export/model/?version=1")
    assert "pruned" in answer.json()["detail"]
    _, responses = documented(api, "/api/projects/{slug}/export/model/", "get")
    assert str(answer.status_code) in responses, (answer.status_code, sorted(responses))
