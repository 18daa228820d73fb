"""A keyword rule matches the start of a longer word in Devanagari (Hindi, Marathi, Nepali…) and
other scripts that write vowels as combining signs.

Keyword rules match "whole words with Unicode letters" (docs/operations.md) so that "card" does
not hit "cardigan" (learner/rules.py ``_compile``). The word characters are ``\\p{L}\\p{N}_``
(``_WORD``): combining marks (``\\p{M}``) are left out, so a vowel sign after the keyword counts
as the end of the word. "बंद" ("closed") then matches inside "बंदी" ("prisoner"), "रिफ" inside
"रिफंड" ("refund"): the rules editor's count, the cold-start rule picks and the highlights all
include them. (Latin text is not affected: the fold has already removed its accents.)"""
import pytest
from rest_framework.test import APIClient

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("keyword, whole, longer", [
    ("बंद", "मेरा खाता बंद हो गया", "वह बंदी अब रिहा हो गया"),  # closed / prisoner
    ("रिफ", "रिफ नाम का ऐप", "मुझे रिफंड चाहिए"),  # a name / refund
    ("card", "my card was stolen", "my cardigan was stolen"),  # control: holds today
])
def test_a_keyword_does_not_match_the_start_of_a_longer_word(world, keyword, whole, longer):
    wanted = make_item(world["alpha"], whole)
    make_item(world["alpha"], longer)
    api = APIClient()
    api.force_authenticate(world["lead"])
    response = api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": keyword}, format="json")
    assert response.status_code == 200, response.content
    assert [e["id"] for e in response.json()["examples"]] == [wanted.id], response.json()["examples"]
