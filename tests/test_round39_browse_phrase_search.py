"""The item browser's search box: a quoted phrase ("a phrase", as the box's placeholder offers)
lists only items with those words in that order, also when no item has the phrase."""
import pytest
from rest_framework.test import APIClient

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client(world, postgres_only):
    project = world["alpha"]
    email = project.sources.get(name="email")
    for i in range(30):
        make_item(project, f"my stolen card was used abroad {i}", source=email)
        make_item(project, f"please discard the stolen parcel note {i}", source=email)
        make_item(project, f"printer on floor {i} is jammed", source=email)
    make_item(project, "somebody reported the card stolen yesterday", source=email)
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def found(client, q, **params):
    response = client.get("/api/projects/alpha/items/", {"q": q, "page_size": 200, **params})
    assert response.status_code == 200, response.content
    return [row["text"] for row in response.json()["results"]]


def test_a_phrase_finds_the_item_that_has_it(lead_client):
    assert found(lead_client, '"card stolen"') == ["somebody reported the card stolen yesterday"]


def test_a_phrase_no_item_has_matches_nothing(lead_client):
    """Both words are common, but no item has "abroad stolen" in that order: the phrase matches
    nothing. It listed every item that merely contains both words anywhere."""
    assert found(lead_client, '"abroad stolen"') == []
    assert found(lead_client, '"card used stolen"') == []


def test_a_phrase_no_item_has_matches_nothing_on_the_page(world, lead_client, client):
    client.force_login(world["lead"])
    response = client.get("/p/alpha/items/", {"q": '"abroad stolen"', "count": "true"})
    assert response.status_code == 200
    assert response.context["count"] == 0, response.context["count_text"]


def test_a_negation_that_leaves_nothing_lists_nothing(world, postgres_only):
    """Every item with the word "card" also has "stolen": "card -stolen" matches nothing. It listed
    "cardboard box damaged" (card as a part of a word) and "please discard …" once "-stolen" was
    dropped by a substring reading of the words: the fallback meant for words no item has."""
    project = world["alpha"]
    email = project.sources.get(name="email")
    for text in ["my stolen card was used abroad", "somebody reported the card stolen yesterday",
                 "cardboard box damaged", "the router is down"]:
        make_item(project, text, source=email)
    client = APIClient()
    client.force_authenticate(world["lead"])
    assert found(client, "card -stolen") == []
    assert found(client, '"card stolen" -yesterday') == []


def test_two_words_no_item_has_together_match_nothing(lead_client):
    """"card" and "parcel" are both words of the project, never in one item: nothing matches. It listed
    "please discard the stolen parcel note" ("card" inside "discard")."""
    assert found(lead_client, "card parcel") == []
