"""fa5e259 folds ς to σ and ß/ẞ to ss in learner.text_fold.search_form, and items migration 0011 folds
the PostgreSQL search columns to match. The fallback search (labeling/items/browse.py contains_search,
used wherever the database is not PostgreSQL: the README's default DATABASE_URL is SQLite) folds the
*query* with search_form but compares it with the raw text (``text__icontains``), which nothing folds.
So since fa5e259, on SQLite, a word with ß or a final ς is not found even when typed exactly as
stored: "Hauptstraße" is searched as "hauptstrasse" in "... Hauptstraße ...", "λογαριασμος" as
"λογαριασμοσ". Before it, both were found (the fold left them alone).

The API test runs on whichever database the suite uses (it fails under SQLite: run without
DATABASE_URL); the contains_search test calls the fallback itself, so it fails on PostgreSQL too."""
import json

import pytest
from rest_framework.test import APIClient

from labeling.items.browse import contains_search
from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db

ROWS = [
    {"external_id": "german", "text": "Lieferung in die Hauptstraße verspätet"},
    {"external_id": "greek", "text": "το προβλημα του λογαριασμος παραμενει"},
    {"external_id": "other", "text": "an unrelated ticket about passwords"},
]


@pytest.fixture
def imported(world, tmp_path):
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS), encoding="utf-8")
    result = import_path(world["alpha"], path)
    assert result.ok, [e.format("f") for e in result.errors]
    return world["alpha"]


@pytest.mark.parametrize("q, expected", [("Hauptstraße", "german"), ("λογαριασμος", "greek")])
def test_the_fallback_search_finds_a_word_typed_as_stored(imported, q, expected):
    found = set(contains_search(Item.objects.filter(project=imported), q).values_list("external_id", flat=True))
    assert found == {expected}, q


@pytest.mark.parametrize("q, expected", [("Hauptstraße", "german"), ("λογαριασμος", "greek")])
def test_the_search_api_finds_a_word_typed_as_stored(world, imported, q, expected):
    api = APIClient()
    api.force_authenticate(world["lead"])
    response = api.get("/api/projects/alpha/items/", {"q": q})
    assert response.status_code == 200, response.content
    assert {row["external_id"] for row in response.json()["results"]} == {expected}, q
