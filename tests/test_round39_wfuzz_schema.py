"""The bodies of the answers documented for review/bulk/ (400), annotations/history/ (403) and
export/model/ (410) validate against the schema /api/schema/ gives for them."""
import jsonschema
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import ModelVersion
from labeling.projects.models import Label, Membership


def client_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def check_documented(api, path: str, method: str, answer) -> None:
    schema = api.get("/api/schema/?format=json").json()
    responses = schema["paths"][path][method]["responses"]
    assert str(answer.status_code) in responses, (answer.status_code, sorted(responses))
    body = responses[str(answer.status_code)]["content"]["application/json"]["schema"]
    jsonschema.validate(answer.json(), {**body, "components": schema["components"]})


def test_review_bulk_refusal_past_the_field_checks_fits_the_documented_400(world):
    """relabel without a label passes the body's field checks and is refused by the review itself,
    as {"detail", "field"}: the documented 400 covers that body as well as the field-keyed one."""
    api = client_for(world["lead"])
    answer = api.post("/api/projects/alpha/review/bulk/", {"action": "relabel", "tasks": [1]}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == "label"
    check_documented(api, "/api/projects/{slug}/review/bulk/", "post", answer)


def test_history_403_body_is_the_documented_error(world):
    alpha, annotator = world["alpha"], world["annotator"]
    item = Item.objects.create(project=alpha, text="card stolen", text_hash="h1")
    Annotation.objects.create(project=alpha, item=item, annotator=annotator,
                              label=Label.objects.filter(project=alpha).first())
    Membership.objects.filter(project=alpha, user=annotator).delete()
    api = client_for(annotator)
    answer = api.get("/api/projects/alpha/annotations/history/")
    assert "no longer a member" in answer.json()["detail"]
    check_documented(api, "/api/projects/{slug}/annotations/history/", "get", answer)


def test_history_of_someone_who_never_was_a_member_stays_404(world):
    """The 403 is for former members only: an outsider still learns nothing about the slug."""
    api = client_for(world["outsider"])
    assert api.get("/api/projects/alpha/annotations/history/").status_code == 404


def test_pruned_version_410_body_is_the_documented_error(world):
    ModelVersion.objects.create(project=world["alpha"], number=1, state=ModelVersion.RETIRED,
                                finished_at=timezone.now(), pruned_at=timezone.now())
    api = client_for(world["lead"])
    answer = api.get("/api/projects/alpha/export/model/?version=1")
    assert answer.status_code == 410
    check_documented(api, "/api/projects/{slug}/export/model/", "get", answer)
