"""The item browser's search box offers `words, "a phrase", -without` (its placeholder) on every
database, the SQLite demo included: "-word" leaves out the items with the word there too."""
import pytest
from rest_framework.test import APIClient

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(world):
    project = world["alpha"]
    email = project.sources.get(name="email")
    for text in ["refund for a stolen card", "refund for order 55", "refund still missing", "printer jammed"]:
        make_item(project, text, source=email)
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def texts(client, q):
    response = client.get("/api/projects/alpha/items/", {"q": q, "page_size": 200})
    assert response.status_code == 200, response.content
    return sorted(row["text"] for row in response.json()["results"])


def test_minus_word_leaves_out_items_with_it(lead):
    assert texts(lead, "refund -card") == ["refund for order 55", "refund still missing"]


def test_phrase_needs_the_words_together(lead):
    assert texts(lead, '"stolen card"') == ["refund for a stolen card"]
    assert texts(lead, '"card stolen"') == []


def test_placeholder_is_what_the_search_does(world, client):
    client.force_login(world["lead"])
    html = client.get("/p/alpha/items/").content.decode()
    assert "-without" in html
