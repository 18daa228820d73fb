"""The item browser's search finds texts that look like the query: words inside a run of Chinese
(no spaces between words), a decomposed accent for a typed "Café" or "cafe", a word split by a
zero-width space, a part of a word no item has as a word; through the API and the page, with
every plan the browser may take (id lists or the ordered walk), and never across projects."""
import pytest
from django.db import connection

from labeling.items import browse, narrowing
from labeling.items.narrowing import TEXT_PROBE, set_local

from .test_browse_api import ids, query
from .test_browse_helpers import make_item

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the search columns exist on PostgreSQL only"),
]

# As in tests/test_browse_narrowing.py: 0 → every filter broad (walk), 10**6 → every filter narrow.
REGIMES = {"walk": 0, "narrow": 10**6}


@pytest.fixture
def texts(world):
    alpha, beta = world["alpha"], world["beta"]
    email = alpha.sources.get(name="email")
    items = {
        "cjk": make_item(alpha, "我的银行卡被冻结了，请帮我解冻。", source=email),
        "accent": make_item(alpha, "Cafe\u0301 Zalgo charged me twice", source=email),
        "zero_width": make_item(alpha, "pass\u200bword resets do not arrive", source=email),
        "percent": make_item(alpha, "退款100%到账了吗", source=email),
        "plain": make_item(alpha, "my card was frozen at the cafeteria", source=email),
        "korean": make_item(alpha, "한국어를 할 줄 알아요", source=email),
    }
    make_item(beta, "我的银行卡被冻结了 (another project)")
    return items


CASES = [
    ("银行卡", {"cjk"}),
    ("冻结", {"cjk"}),  # two characters: no trigram, found row by row
    ("解冻", {"cjk"}),
    ("银行卡 冻结", {"cjk"}),
    ("한국어", {"korean"}),
    ("Café", {"accent"}),
    ("cafe", {"accent"}),
    ("CAFÉ zalgo", {"accent"}),
    ("password", {"zero_width"}),
    ("passw", {"zero_width"}),  # no item has it as a word: matched as a part of one
    ("100%", {"percent"}),
    ("0%到", {"percent"}),  # % is a character here, not a wildcard
    ("%到", {"percent"}),
]
# Found (or not) before as now; checked beside a case that was not.
KEPT = [
    ("我的银行卡被冻结了", {"cjk"}),
    ("Cafe\u0301", {"accent"}),
    ("pass\u200bword", {"zero_width"}),
    ("reset", {"zero_width"}),  # words are still stemmed ("resets")
    ("银行卡 -冻结", set()),
    ("行%", set()),
    ("日本語", set()),
]


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("q,expected", CASES, ids=[ascii(q) for q, _ in CASES])
def test_search_finds_what_looks_like_the_query(world, texts, monkeypatch, regime, q, expected):
    monkeypatch.setattr(narrowing, "NARROW_CAP", REGIMES[regime])
    wanted = {texts[name].id for name in expected}
    assert ids(query(world, {"q": q})) == wanted
    # with a second, narrow filter: the search is checked on that filter's candidates
    assert ids(query(world, {"q": q, "source": "email"})) == wanted


@pytest.mark.parametrize("regime", REGIMES)
def test_what_matched_before_still_does_and_nothing_more(world, texts, monkeypatch, regime):
    monkeypatch.setattr(narrowing, "NARROW_CAP", REGIMES[regime])
    assert ids(query(world, {"q": "冻结"})) == {texts["cjk"].id}
    for q, expected in KEPT:
        assert ids(query(world, {"q": q})) == {texts[name].id for name in expected}, ascii(q)
        assert ids(query(world, {"q": q, "source": "email"})) == {texts[name].id for name in expected}, ascii(q)


def test_a_word_some_item_has_is_not_matched_inside_other_words(world, texts):
    # "cafe" is an item's word (after folding): the cafeteria item, which has it only inside a word, stays out.
    assert ids(query(world, {"q": "cafe"})) == {texts["accent"].id}
    # "frozen" is a word; "froze" no item has as a word, so it is matched as a part of one.
    assert ids(query(world, {"q": "froze"})) == {texts["plain"].id}


def test_the_items_page_searches_the_same_way(client, world, texts):
    client.force_login(world["lead"])
    body = client.get("/p/alpha/items/", {"q": "冻结"}).content.decode()
    assert "我的银行卡被冻结了" in body and "Zalgo" not in body and "another project" not in body
    body = client.get("/p/alpha/items/", {"q": "password"}).content.decode()
    assert "resets do not arrive" in body and "我的银行卡" not in body


def test_the_migration_folds_texts_as_the_query_is_folded(world):
    """The stored folded text (SQL) and browse.search_form (Python) agree on texts that need folding."""
    samples = ["Cafe\u0301 crème brûlée", "ﬁle Ｗｉｄｅ ①", "pass\u200bword\u2060x\ufeffy\u00ad", "\u202eevil\u202c",
               "银行卡", "ｶﾀｶﾅ", "Ångström Ñandú", "e\u0301\u0323", "한국어"]
    for text in samples:
        item = make_item(world["alpha"], text)
        with connection.cursor() as cursor:
            cursor.execute("SELECT search_text FROM items_item WHERE id = %s", [item.id])
            assert cursor.fetchone()[0] == browse.search_form(text).lower(), ascii(text)


def test_substrings_are_found_through_the_trigram_index(world, texts):
    """The probe a substring search asks (narrowing.narrow_by_text) reads the trigram index, not every row."""
    search = browse.TextSearch.of("银行卡")
    assert search.substring and search.indexable
    probe = search.apply(narrowing.project_rows(world["alpha"]))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        set_local(TEXT_PROBE)
        sql, params = probe.order_by().values("id").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_text_substring" in plan, plan
