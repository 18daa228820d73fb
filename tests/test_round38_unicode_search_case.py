"""The item search ignores case only as PostgreSQL's lower() does, letter by letter, so it misses
Greek words written in capitals (final sigma) and German ß written as SS, both of which the import
itself reads as the same text.

The search columns hold ``lower(folded text)`` and the query is lowered by the same function
(labeling/items/migrations/0007_item_search_text.py, labeling/items/browse.py ``TextSearch``).
lower() turns every capital Σ into σ, but a Greek word ends in ς: "ΚΟΣΜΟΣ" lowers to "κοσμοσ" and
never meets "κόσμος" ("κοσμος" once the accent is dropped), in either direction. ß has no
one-letter capital in ordinary writing: "STRASSE" lowers to "strasse", never "straße". Case
folding (Python's str.casefold, which the importer's exact-duplicate hash uses:
learner/text.py normalize_text) maps ς to σ and ß to ss; so the import groups "Hauptstraße" and
"HAUPTSTRASSE" as exact duplicates while the search for one of them does not find the other, and a
keyword rule "ΚΟΣΜΟΣ" (RE2's case-insensitive match does treat Σ, σ and ς as one letter) matches
"κόσμος", which the search for the same word does not find."""
import pytest
from django.db import connection
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the search columns exist on PostgreSQL only"),
]

ROWS = [
    {"external_id": "greek-lower", "text": "Ο κόσμος είναι μικρός σήμερα"},
    {"external_id": "greek-caps", "text": "ΤΟ ΠΡΟΒΛΗΜΑ ΤΟΥ ΛΟΓΑΡΙΑΣΜΟΣ ΠΑΡΑΜΕΝΕΙ"},
    {"external_id": "german-eszett", "text": "Lieferung in die Hauptstraße verspätet"},
    {"external_id": "german-caps", "text": "LIEFERUNG IN DIE HAUPTSTRASSE VERSPÄTET"},
    {"external_id": "other", "text": "an unrelated ticket about passwords"},
]


@pytest.fixture
def imported(world, tmp_path):
    import json

    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS), encoding="utf-8")
    result = import_path(world["alpha"], path)
    assert result.ok, [e.format("f") for e in result.errors]
    return {item.external_id: item for item in Item.objects.filter(project=world["alpha"])}


def found(world, q):
    api = APIClient()
    api.force_authenticate(world["lead"])
    response = api.get("/api/projects/alpha/items/", {"q": q})
    assert response.status_code == 200, response.content
    return {row["external_id"] for row in response.json()["results"]}


@pytest.mark.parametrize("q, expected", [
    ("ΚΟΣΜΟΣ", {"greek-lower"}),  # the word in capitals: κόσμος
    ("λογαριασμος", {"greek-caps"}),  # the word in small letters: ΛΟΓΑΡΙΑΣΜΟΣ
    ("Λογαριασμός", {"greek-caps"}),
    ("hauptstrasse", {"german-eszett", "german-caps"}),
    ("Hauptstraße", {"german-eszett", "german-caps"}),
])
def test_the_search_ignores_case_in_greek_and_german(world, imported, q, expected):
    assert found(world, q) == expected, q


def test_what_the_import_calls_one_text_the_search_finds_as_one(world, imported):
    """The importer's own view: the two German rows are one text (an exact duplicate group)."""
    assert imported["german-caps"].dup_group == imported["german-eszett"].dup_group
    assert found(world, "HAUPTSTRASSE") == found(world, "Hauptstraße")
