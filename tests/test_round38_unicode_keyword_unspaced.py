"""Keyword rules in scripts written without spaces between words (Chinese, Japanese, Thai, and
Korean with its attached particles) match nothing.

A keyword rule is compiled as "the phrase with a non-letter on each side"
(learner/rules.py, ``_compile``: ``(?:^|[^\\p{L}\\p{N}_])phrase(?:[^\\p{L}\\p{N}_]|$)``). In a
Japanese or Chinese sentence the characters around a word are letters too (Han, kana), so
"返金" in "…。返金してください。" is never "a whole word" and the rule matches no item at all. The
rules editor's preview says 0 matches, the cold-start wave's rule strategy never picks those
items, and the annotation page highlights nothing, while the item search (which docs/operations.md
says keyword rules match "as the search does") finds every one of them: for these scripts it
matches a query as a part of the text (labeling/items/browse.py, ``_UNSPACED``)."""
import pytest
from django.db import connection
from rest_framework.test import APIClient

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db

TEXTS = {
    "返金": "注文した商品がまだ届いていません。返金してください。",  # Japanese: "refund"
    "冻结": "我的银行卡被冻结了，请帮我解冻。",  # Chinese: "frozen"
    "คืนเงิน": "ฉันต้องการคืนเงินสำหรับคำสั่งซื้อนี้",  # Thai: "refund"
    "환불": "환불해 주세요 주문이 안 왔어요",  # Korean: "refund" + the particle 해
}


@pytest.fixture
def lead_api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


@pytest.fixture
def items(world):
    email = world["alpha"].sources.get(name="email")
    made = {word: make_item(world["alpha"], text, source=email) for word, text in TEXTS.items()}
    make_item(world["alpha"], "an English ticket about something else", source=email)
    return made


@pytest.mark.parametrize("word", list(TEXTS))
def test_a_keyword_in_a_script_without_spaces_matches_the_items_that_hold_it(lead_api, items, word):
    preview = lead_api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": word}, format="json")
    assert preview.status_code == 200, preview.content
    assert [e["id"] for e in preview.json()["examples"]] == [items[word].id], (
        f"keyword {word!r} should match {TEXTS[word]!r}; preview says {preview.json()['matches']} matches")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search columns exist on PostgreSQL only")
@pytest.mark.parametrize("word", list(TEXTS))
def test_the_search_and_the_keyword_rule_agree(lead_api, items, word):
    """docs/operations.md: a keyword rule matches the text folded as the item search folds it, "as
    the search does". The search finds the item; the rule should too."""
    found = lead_api.get("/api/projects/alpha/items/", {"q": word})
    assert found.status_code == 200, found.content
    searched = {row["id"] for row in found.json()["results"]}
    assert searched == {items[word].id}
    preview = lead_api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": word}, format="json")
    assert preview.json()["matches"] == len(searched), (word, preview.json())
