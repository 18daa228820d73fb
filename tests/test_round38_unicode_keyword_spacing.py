"""A keyword phrase misses the phrase when the text puts two spaces or a line break between its words.

learner/rules.py ``_compile`` escapes the folded phrase character by character (``re2.escape``),
so the one space of "credit card" matches exactly one space. The fold (NFKC) already makes a
no-break space or an ideographic space (U+3000) a space, so "credit\\u00a0card" and
"credit\\u3000card" match; but "credit  card" (two spaces, common in pasted text and e-mails) and a
phrase broken over two lines of a ticket do not, while the item search finds all of them (its words
are matched whatever the spacing) and docs/operations.md says the keyword matches "as the search
does"."""
import pytest
from rest_framework.test import APIClient

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db

TEXTS = ["my credit card was charged twice", "my credit  card was charged twice", "my credit\ncard was charged twice",
         "my credit\r\n card was charged twice"]


def test_a_phrase_matches_whatever_white_space_is_between_its_words(world):
    made = [make_item(world["alpha"], text) for text in TEXTS]
    make_item(world["alpha"], "a credit note for the card")
    api = APIClient()
    api.force_authenticate(world["lead"])
    response = api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": "credit card"},
                        format="json")
    assert response.status_code == 200, response.content
    assert response.json()["matches"] == len(made), response.json()
