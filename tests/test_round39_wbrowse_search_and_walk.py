"""The item browser's search when the words match nothing (only the words no item has become
substrings), the confidence walk across a retrain (back links too) and after the walked model was
pruned, and the overview's skipped count against the browser filters its tooltip names."""
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion
from labeling.modeling.versions import activate_version

from .test_browse_helpers import answer_row, make_item, score

pytestmark = pytest.mark.django_db


def api(world):
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def texts(client, q):
    response = client.get("/api/projects/alpha/items/", {"q": q, "page_size": 200})
    assert response.status_code == 200, response.content
    return sorted(row["text"] for row in response.json()["results"])


@pytest.fixture
def boxes(world):
    project = world["alpha"]
    email = project.sources.get(name="email")
    for text in ["the cardboard box was damaged", "the card box was damaged", "a cardboard crate arrived",
                 "my stolen card was used abroad"]:
        make_item(project, text, source=email)
    return api(world)


def test_only_the_unknown_word_becomes_a_substring(boxes, postgres_only):
    # "board" is no item's word (it is inside "cardboard"); "box" is a word and stays one.
    assert texts(boxes, "board box") == ["the cardboard box was damaged"]
    assert texts(boxes, "board -damaged") == ["a cardboard crate arrived"]
    assert texts(boxes, "board -crate -damaged") == []


def test_a_phrase_holding_an_unknown_word_is_a_run_of_text(boxes, postgres_only):
    assert texts(boxes, '"cardboard bo"') == ["the cardboard box was damaged"]
    assert texts(boxes, '"bo cardboard"') == []
    # the phrase of known words keeps its order in the same query
    assert texts(boxes, 'board "box was damaged"') == ["the cardboard box was damaged"]
    assert texts(boxes, 'board "damaged was box"') == []


def test_known_words_never_together_match_nothing_also_with_a_stop_word(boxes, postgres_only):
    assert texts(boxes, "the crate stolen") == []
    assert texts(boxes, '"stolen card" abroad') == ["my stolen card was used abroad"]


def test_substring_search_on_any_database_reads_minus_and_quotes(boxes):
    assert texts(boxes, '-"card box" -stolen damaged') == ["the cardboard box was damaged"]


@pytest.fixture
def retrained(world):
    project = world["alpha"]
    email = project.sources.get(name="email")
    items = [make_item(project, f"ticket number {i}", source=email) for i in range(30)]
    v1 = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, label_map=["a", "b"])
    v2 = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY, label_map=["a", "b"])
    for i, item in enumerate(items):
        score(item, v1, 0, 0.40 + i / 100)
        score(item, v2, 0, 0.95 - i / 100)
    return items, v1, v2


def test_walking_back_after_a_retrain_gives_the_pages_walking_forward_did(world, retrained):
    items, v1, v2 = retrained
    client = api(world)
    pages = [client.get("/api/projects/alpha/items/", {"sort": "confidence_asc", "page_size": 7}).json()]
    activate_version(v2)
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    forward = [[row["id"] for row in page["results"]] for page in pages]
    assert sum(forward, []) == [item.id for item in items]  # v1's order: oldest least confident
    url, back = pages[-1]["previous"], []
    while url:
        body = client.get(url).json()
        back.insert(0, [row["id"] for row in body["results"]])
        url = body["previous"]
    assert back == forward[:-1]
    # a new walk reads the model active now
    fresh = client.get("/api/projects/alpha/items/", {"sort": "confidence_asc", "page_size": 7}).json()
    assert [row["id"] for row in fresh["results"]] == [item.id for item in items[::-1][:7]]


def test_a_filtered_walk_keeps_its_model_too(world, retrained):
    items, v1, v2 = retrained
    client = api(world)
    params = {"min_confidence": 0.6, "page_size": 5}  # v1: the 10 newest; v2: the 26 oldest
    first = client.get("/api/projects/alpha/items/", params).json()
    activate_version(v2)
    seen, url = [row["id"] for row in first["results"]], first["next"]
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == [item.id for item in items[::-1][:10]]


def test_a_walk_whose_model_was_pruned_starts_again_with_a_notice(world, retrained, client):
    items, v1, v2 = retrained
    api_client = api(world)
    first = api_client.get("/api/projects/alpha/items/", {"sort": "confidence_desc", "page_size": 10}).json()
    activate_version(v2)
    ModelVersion.objects.filter(pk=v1.pk).update(pruned_at=timezone.now())
    response = api_client.get(first["next"])
    assert response.status_code == 404
    assert "start again from the first page" in response.json()["detail"]
    client.force_login(world["lead"])
    page = client.get("/p/alpha/items/", {"sort": "confidence_desc", "page_size": 10})
    assert page.status_code == 200
    next_url = re.search(r'href="([^"]*cursor=[^"]*)"', page.content.decode()).group(1).replace("&amp;", "&")
    ModelVersion.objects.filter(pk=v2.pk).update(pruned_at=timezone.now())
    followed = client.get(next_url, follow=True)
    assert followed.redirect_chain and "cursor" not in followed.redirect_chain[-1][0]
    assert "no longer valid" in followed.content.decode()


def test_the_overview_skipped_count_names_the_filters_that_give_it(world, client):
    """Excluded skips are counted under "excluded by a lead", not twice: the tooltip names both filters."""
    project = world["alpha"]
    chat = project.sources.get(name="chat")
    for i in range(2):
        answer_row(project, make_item(project, f"unreadable {i}", source=chat), None, world["annotator"], skipped=True)
    answer_row(project, make_item(project, "junk", source=chat, excluded=True), None, world["annotator"],
               skipped=True)
    client.force_login(world["lead"])
    html = client.get("/p/alpha/").content.decode()
    found = re.search(r'id="overview-skipped" title="([^"]*)">(\d+) skipped by everyone', html)
    assert "state: skipped, excluded: no" in found.group(1)
    page = client.get("/p/alpha/items/", {"state": "skipped", "excluded": "false", "count": "true"})
    assert page.context["count"] == int(found.group(2)) == 2


def test_stop_words_alone_are_read_as_text_and_odd_input_is_no_error(boxes, postgres_only):
    assert texts(boxes, "the") == ["the card box was damaged", "the cardboard box was damaged"]
    assert texts(boxes, "the crate") == ["a cardboard crate arrived"]  # "the" ignored next to a word
    for odd in ['"', '-', '""', '-""', '"unclosed phrase', 'a & b | c', 'card:*', '\\', '(', "o'brien -"]:
        response = boxes.get("/api/projects/alpha/items/", {"q": odd})
        assert response.status_code == 200, (odd, response.content[:200])
