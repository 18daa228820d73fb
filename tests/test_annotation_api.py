"""The annotation API and pages: roles, shapes, validation messages, escaping."""
import json
import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, Assignment
from labeling.projects.models import Label, Membership

from .test_annotation_helpers import add_member, make_open_wave  # noqa: F401


@pytest.fixture
def project(project_factory):
    p = project_factory("api")
    p.batch_size = 3
    p.guidelines = "Read <b>carefully</b>.\nSecond line."
    p.save()
    return p


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


@pytest.fixture
def lead(make_user, project):
    return add_member(make_user, project, "lea", role=Membership.LEAD)


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def lease(client, slug="api", **body):
    return client.post(f"/api/projects/{slug}/batches/", body, format="json")


def test_lease_returns_items_and_progress_without_reasons_for_annotators(project, ann):
    make_open_wave(project, 5, texts=[f"text {i}" for i in range(5)])
    response = lease(api_as(ann))
    assert response.status_code == 200
    data = response.json()
    assert [it["text"] for it in data["items"]] == ["text 0", "text 1", "text 2"]
    assert data["items"][0]["source"] == project.sources.first().name
    assert "why" not in data["items"][0]
    assert data["progress"] == {"waves": [1], "needed": 5, "done": 0, "leased": 3}
    assert data["resumed"] is False and data["message"] == ""


def test_leads_see_why_an_item_was_picked(project, lead):
    make_open_wave(project, 2)
    item = lease(api_as(lead)).json()["items"][0]
    assert item["why"]["strategy"] == "rare"
    assert item["why"]["reason"] == "picked because of reason 0"
    assert item["why"]["inclusion_prob"] == 0.25 and item["why"]["likely_rare"] is True


def test_nothing_to_lease_says_so(project, ann):
    data = lease(api_as(ann)).json()
    assert data["items"] == [] and "Nothing is waiting" in data["message"] and data["progress"] is None


def test_answer_is_idempotent_over_http(project, ann):
    make_open_wave(project, 3)
    client = api_as(ann)
    assignment = lease(client).json()["items"][0]["assignment"]
    label = project.labels.get(name="login")
    body = {"client_id": str(uuid.uuid4()), "assignment": assignment, "label": label.pk}
    first = client.post("/api/projects/api/annotations/", body, format="json")
    again = client.post("/api/projects/api/annotations/", body, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["annotation"]["id"] == again.json()["annotation"]["id"]
    assert first.json()["annotation"]["label_name"] == "login"
    assert again.json()["created"] is False
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"label": "other-project"}, 400, "is not a label of project 'api'"),
        ({"skipped": True}, 400, "Say why you skip"),
        ({}, 400, "Give exactly one of"),
        ({"label": "billing", "skipped": True, "skip_reason": "x"}, 400, "Give exactly one of"),
        ({"assignment": 999999, "label": "billing"}, 404, "Assignment 999999 does not exist in project 'api'"),
    ],
)
def test_bad_answers_get_a_message_naming_the_problem(project, ann, project_factory, body, status, message):
    other = project_factory("elsewhere", labels=("x",))
    make_open_wave(project, 3)
    client = api_as(ann)
    assignment = lease(client).json()["items"][0]["assignment"]
    payload = {"client_id": str(uuid.uuid4()), "assignment": assignment}
    payload.update(body)
    if payload.get("label") == "other-project":
        payload["label"] = other.labels.get().pk
    elif payload.get("label") == "billing":
        payload["label"] = project.labels.get(name="billing").pk
    response = client.post("/api/projects/api/annotations/", payload, format="json")
    assert response.status_code == status, response.content
    assert message in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_missing_client_id_and_target_are_field_errors(project, ann):
    response = api_as(ann).post("/api/projects/api/annotations/", {"label": 1}, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"client_id"}


def test_none_of_these_uses_the_other_label_or_creates_one_once(project, ann, make_user):
    make_open_wave(project, 3)
    client = api_as(ann)
    batch = lease(client).json()["items"]
    for it in batch[:2]:
        r = client.post("/api/projects/api/annotations/",
                        {"client_id": str(uuid.uuid4()), "assignment": it["assignment"], "none_of_these": True},
                        format="json")
        assert r.status_code == 201, r.content
    other = Label.objects.get(project=project, is_other=True)
    assert other.name == "None of these" and other.hotkey == "0"
    assert list(Annotation.objects.values_list("label_id", flat=True)) == [other.pk, other.pk]


def test_none_of_these_prefers_the_projects_own_other_label(project, ann):
    own = Label.objects.create(project=project, name="Other", is_other=True, hotkey="o")
    make_open_wave(project, 1)
    client = api_as(ann)
    it = lease(client).json()["items"][0]
    client.post("/api/projects/api/annotations/",
                {"client_id": str(uuid.uuid4()), "assignment": it["assignment"], "none_of_these": True}, format="json")
    assert Annotation.objects.get().label == own
    assert Label.objects.filter(project=project, is_other=True).count() == 1


def test_undo_over_http(project, ann):
    make_open_wave(project, 3)
    client = api_as(ann)
    it = lease(client).json()["items"][0]
    label = project.labels.first()
    client.post("/api/projects/api/annotations/",
                {"client_id": str(uuid.uuid4()), "assignment": it["assignment"], "label": label.pk}, format="json")
    r = client.post("/api/projects/api/annotations/undo/", {}, format="json")
    assert r.status_code == 200 and r.json()["undone"] is True and r.json()["assignment"] == it["assignment"]
    assert Assignment.objects.get(pk=it["assignment"]).state == Assignment.LEASED
    r = client.post("/api/projects/api/annotations/undo/", {}, format="json")
    assert r.status_code == 404 and "no answer to undo" in r.json()["detail"]


def test_renew_over_http(project, ann):
    make_open_wave(project, 2)
    client = api_as(ann)
    lease(client)
    response = client.post("/api/projects/api/batches/renew/", {}, format="json")
    assert response.status_code == 200 and response.json()["renewed"] == 2


def test_token_auth_works(project, ann):
    make_open_wave(project, 1)
    token = Token.objects.create(user=ann)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert len(lease(client).json()["items"]) == 1


def test_roles_on_the_api(project, ann, lead, make_user):
    stranger = make_user("stranger")
    admin = make_user("root", superuser=True)
    make_open_wave(project, 2)
    assert lease(APIClient()).status_code in (401, 403)
    assert lease(api_as(stranger)).status_code == 404
    assert api_as(stranger).get("/api/projects/api/agreement/").status_code == 404
    assert lease(api_as(lead)).status_code == 200
    assert lease(api_as(admin)).status_code == 200
    assert api_as(ann).get("/api/projects/api/agreement/").status_code == 403
    assert api_as(ann).get("/api/projects/api/review/").status_code == 403
    assert api_as(lead).get("/api/projects/api/agreement/").status_code == 200
    assert api_as(lead).get("/api/projects/api/review/").status_code == 200
    assert api_as(lead).get("/api/projects/api/review/?reason=nope").status_code == 400
    assert lease(api_as(ann), slug="no-such-project").status_code == 404


def test_schema_lists_the_annotation_endpoints(admin_client):
    schema = admin_client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    for path in ("/api/projects/{slug}/batches/", "/api/projects/{slug}/batches/renew/",
                 "/api/projects/{slug}/annotations/",
                 "/api/projects/{slug}/annotations/undo/", "/api/projects/{slug}/agreement/",
                 "/api/projects/{slug}/review/"):
        assert path in paths


# --- pages ---------------------------------------------------------------------------------------
def test_annotate_page_embeds_the_held_batch_escaped(project, ann, client):
    make_open_wave(project, 2, texts=["<script>alert(1)</script> & co", "plain"])
    lease(api_as(ann))
    client.force_login(ann)
    response = client.get("/p/api/annotate/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    config_json = html.split('<script id="annotate-config" type="application/json">')[1].split("</script>")[0]
    config = json.loads(config_json)
    assert [it["text"] for it in config["batch"]] == ["<script>alert(1)</script> & co", "plain"]
    assert config["builtinOther"] == {"name": "None of these", "hotkey": "0"}
    assert sorted(lab["hotkey"] for lab in config["labels"]) == ["1", "2", "3"]
    assert "Read &lt;b&gt;carefully&lt;/b&gt;." in html  # guidelines escaped, line breaks kept
    assert "About billing" in html  # label descriptions at hand
    assert '<script type="module" src="/static/js/annotate/main.js">' in html


def test_annotate_page_roles(project, ann, make_user, client):
    assert client.get("/p/api/annotate/").status_code == 302  # anonymous → login
    client.force_login(make_user("stranger"))
    assert client.get("/p/api/annotate/").status_code == 404
    client.force_login(ann)
    assert client.get("/p/api/annotate/").status_code == 200
    assert client.get("/p/api/review/").status_code == 403
