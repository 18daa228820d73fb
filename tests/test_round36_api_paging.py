"""Paging parameters answer 400 naming themselves, as every bad filter value does: page_size on the
item browser and the answers list (DRF read 0, -5 or abc as "use the default" and gave 50 rows),
count on the item browser (the shared yes/no spellings, not a parser of its own), and limit on the
annotator's history (0 and -1 were read as 1)."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labeling.items.models import Item

from .test_annotation_helpers import add_member, make_open_wave
from .test_history_fixes_changes import give, labels, lease

pytestmark = pytest.mark.django_db


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def many_items(world):
    Item.objects.bulk_create([Item(project=world["alpha"], text=f"row {i}", text_hash=f"p{i}") for i in range(60)])
    return api_as(world["lead"])


@pytest.mark.parametrize("path", ["items", "answers"])
@pytest.mark.parametrize("raw", ["abc", "0", "-5", "1.5", " 5", "+5"])
def test_a_bad_page_size_answers_400_naming_it_with_the_range(world, many_items, path, raw):
    response = many_items.get(f"/api/projects/alpha/{path}/", {"page_size": raw})
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["page_size"])
    cap = 200 if path == "items" else 500
    assert f"from 1 to {cap}" in message


def test_a_good_page_size_is_kept_and_a_large_one_gives_the_cap(world, many_items):
    url = "/api/projects/alpha/items/"
    assert len(many_items.get(url, {"page_size": "7"}).json()["results"]) == 7
    assert len(many_items.get(url, {"page_size": "1000"}).json()["results"]) == 60  # the cap (200) > 60 rows
    assert len(many_items.get(url, {"page_size": ""}).json()["results"]) == 50  # left empty: the default
    assert len(many_items.get(url).json()["results"]) == 50


@pytest.mark.parametrize("raw,counted", [("true", True), ("True", True), ("1", True), ("false", False),
                                         ("False", False), ("0", False), ("", False)])
def test_count_takes_the_shared_yes_no_spellings(world, many_items, raw, counted):
    response = many_items.get("/api/projects/alpha/items/", {"count": raw, "page_size": 5})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == (60 if counted else None)


@pytest.mark.parametrize("raw", ["yes", "no", "TRUE", "maybe"])
def test_count_refuses_other_spellings_naming_it(world, many_items, raw):
    response = many_items.get("/api/projects/alpha/items/", {"count": raw})
    assert response.status_code == 400, response.content
    assert "1 or 0" in " ".join(response.json()["count"])


@pytest.fixture
def ann_with_two_answers(project_factory, make_user):
    project = project_factory("hist36", labels=("billing", "login"))
    make_open_wave(project, 3, batch_size=4)
    ann = APIClient()
    ann.force_authenticate(add_member(make_user, project, "ann36"))
    held, lab = lease(ann, "hist36"), labels(project)
    for item_id in list(held)[:2]:
        give(ann, held[item_id], lab["billing"], "hist36")
    return ann


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "2.5", " 1"])
def test_a_bad_history_limit_answers_400_naming_it(ann_with_two_answers, raw):
    response = ann_with_two_answers.get("/api/projects/hist36/annotations/history/", {"limit": raw})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == "limit" and "from 1 to 200" in body["detail"]


@pytest.mark.parametrize("raw,rows", [("1", 1), ("2", 2), ("500", 2), ("", 2), (None, 2)])
def test_a_good_history_limit_is_kept(ann_with_two_answers, raw, rows):
    params = {} if raw is None else {"limit": raw}
    response = ann_with_two_answers.get("/api/projects/hist36/annotations/history/", params)
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == rows


def test_the_answers_list_takes_a_page_size_in_range(world):
    for raw in ("3", "500", "9999"):
        response = api_as(world["lead"]).get("/api/projects/alpha/answers/", {"page_size": raw})
        assert response.status_code == 200, response.content


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "²"])
def test_a_bad_review_queue_limit_answers_400_naming_it(world, raw):
    """``review/?limit=0`` and ``-1`` were taken as 1 (one task listed, nothing said)."""
    response = api_as(world["lead"]).get("/api/projects/alpha/review/", {"limit": raw})
    assert response.status_code == 400 and response.json()["field"] == "limit", response.content


def test_the_browse_page_says_what_is_wrong_with_an_edited_page_size(world, many_items):
    """The items browser's own links never carry a bad page_size; an edited one answered a bare 400 page."""
    browser = Client()
    browser.force_login(world["lead"])
    response = browser.get("/p/alpha/items/", {"page_size": "abc"})
    assert response.status_code == 400 and "from 1 to 200" in response.content.decode()
