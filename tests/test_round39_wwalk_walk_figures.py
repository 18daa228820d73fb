"""A confidence walk (or a prediction filter) across a retrain: the rows of a later page are shown with the
figures of the model that chose and ordered them, the page says which model that is and links to a fresh
first page, the API's rows name the version of their figures, and a walk whose model was pruned since
sends the first page with a notice that says so."""
import html
import re

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion
from labeling.modeling.versions import activate_version

from .test_browse_helpers import make_item, score

pytestmark = pytest.mark.django_db

CELL = re.compile(r'<span class="label-name" title="[^"]*">([^<]+)</span>\s*<span class="muted small">([0-9.]+)</span>')
NEXT = re.compile(r'<a[^>]*href="([^"]*cursor=[^"]*)"[^>]*>\s*Next')


@pytest.fixture
def retrained(world):
    """30 items; v1 (active) says fraud, unsure (0.35 … 0.495); v2 (ready) says billing, sure."""
    project = world["alpha"]
    email = project.sources.get(name="email")
    items = [make_item(project, f"ticket number {i}", source=email) for i in range(30)]
    labels = ["billing", "fraud", "login"]
    v1 = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, label_map=labels)
    v2 = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY, label_map=labels)
    for i, item in enumerate(items):
        score(item, v1, 1, 0.35 + i / 200)
        score(item, v2, 0, 0.9)
    return items, v1, v2


def lead_client(world):
    client = Client()
    client.force_login(world["lead"])
    return client


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_page_two_names_the_walks_model_and_links_to_a_fresh_first_page(world, retrained):
    items, v1, v2 = retrained
    client = lead_client(world)
    first = client.get("/p/alpha/items/", {"sort": "confidence_asc", "page_size": 10})
    assert "the active model's (v1)" in text_of(first)
    activate_version(v2)
    second = client.get(html.unescape(NEXT.search(first.content.decode()).group(1)))
    assert second.status_code == 200
    said = text_of(second)
    assert "model v1's, the model this walk began with, which chose and ordered these rows; v2 is active now" in said
    assert "the active model's" not in said
    assert {cell for cell in CELL.findall(second.content.decode())} <= {
        ("fraud", f"{0.35 + i / 200:.2f}") for i in range(30)}
    restart = re.search(r'<a href="([^"]*)" id="browse-walk-restart">', second.content.decode())
    assert restart and "cursor" not in restart.group(1)
    fresh = client.get(html.unescape(restart.group(1)))
    assert "the active model's (v2)" in text_of(fresh)
    assert set(CELL.findall(fresh.content.decode())) == {("billing", "0.90")}


def test_a_page_that_does_not_read_scores_shows_the_active_models_figures(world, retrained):
    items, v1, v2 = retrained
    client = lead_client(world)
    first = client.get("/p/alpha/items/", {"page_size": 10})
    activate_version(v2)
    second = client.get(html.unescape(NEXT.search(first.content.decode()).group(1)))
    assert "the active model's (v2)" in text_of(second)
    assert set(CELL.findall(second.content.decode())) == {("billing", "0.90")}


def test_api_rows_carry_the_version_of_their_figures(world, retrained):
    items, v1, v2 = retrained
    client = APIClient()
    client.force_authenticate(world["lead"])
    params = {"predicted": "fraud", "max_confidence": "0.5", "sort": "confidence_desc", "page_size": 10}
    first = client.get("/api/projects/alpha/items/", params).json()
    assert {row["model_version"] for row in first["results"]} == {1}
    activate_version(v2)
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [item.id for item in items[::-1][10:20]]
    assert {(row["model_version"], row["predicted_label"]) for row in second["results"]} == {(1, "fraud")}
    assert max(row["confidence"] for row in second["results"]) <= 0.5
    plain = client.get("/api/projects/alpha/items/", {"page_size": 5}).json()["results"]
    assert {(row["model_version"], row["predicted_label"]) for row in plain} == {(2, "billing")}
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    fields = schema["components"]["schemas"]["ItemRow"]["properties"]
    assert "model_version" in fields and "active model" not in fields["predicted_label"]["description"]


def test_a_pruned_walk_sends_the_first_page_saying_the_model_changed(world, retrained):
    items, v1, v2 = retrained
    client = lead_client(world)
    first = client.get("/p/alpha/items/", {"sort": "confidence_asc", "page_size": 10})
    activate_version(v2)
    ModelVersion.objects.filter(pk=v1.pk).update(pruned_at=timezone.now())
    followed = client.get(html.unescape(NEXT.search(first.content.decode()).group(1)), follow=True)
    assert followed.redirect_chain and "cursor" not in followed.redirect_chain[-1][0]
    said = text_of(followed)
    assert "has been replaced and its scores deleted" in said
    assert "the active model's (v2)" in said
