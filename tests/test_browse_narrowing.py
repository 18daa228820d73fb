"""The browser's two pinned plans (labeling/items/narrowing.py) answer exactly what the filters
say: every planted case of the browser's API test gives the same items whether every filter is
narrow (id lists intersected), every filter is broad (the ordered walk) or some of each; the
page query walks the (project, id) index or reads the id list, with no statistics at all; and
the planner settings do not outlive the request inside a caller's transaction."""
import re

import pytest
from django.db import connection
from django.test import RequestFactory
from rest_framework.request import Request

from labeling.items import browse, narrowing
from labeling.items.filters import ItemFilterSet
from labeling.items.models import Item

from .test_browse_api import EXACT, ids, planted, planted_ids, query  # noqa: F401 (planted is a fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the pinned plans are PostgreSQL's"),
]

# NARROW_CAP per regime: 0 → every filter broad (an id list of one item is already too many);
# 3 → the planted project's small lists narrow, its larger ones broad; 10**6 → every filter narrow.
REGIMES = {"walk": 0, "mixed": 3, "narrow": 10**6}


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("params,expected", EXACT, ids=[str(p) for p, _ in EXACT])
def test_every_plan_returns_exactly_the_planted_items(world, planted, monkeypatch,  # noqa: F811
                                                      regime, params, expected):
    monkeypatch.setattr(narrowing, "NARROW_CAP", REGIMES[regime])
    assert ids(query(world, params)) == planted_ids(planted, *expected)


def test_the_regimes_really_differ(world, planted, monkeypatch):  # noqa: F811
    data = {"q": "withdrawal", "source": "email", "predicted": "fraud"}
    version = browse.active_version(world["alpha"])
    monkeypatch.setattr(narrowing, "NARROW_CAP", 0)
    assert narrowing.candidate_ids(world["alpha"], cleaned(world, data), version) is None
    monkeypatch.setattr(narrowing, "NARROW_CAP", 10**6)
    among = narrowing.candidate_ids(world["alpha"], cleaned(world, data), version)
    assert among is not None and planted["fraud_unsure"].id in among


def cleaned(world, params) -> dict:
    filterset = ItemFilterSet(Request(RequestFactory().get("/", params)).query_params,
                              queryset=browse.pool(world["alpha"]), project=world["alpha"])
    assert filterset.is_valid(), filterset.errors
    return filterset.form.cleaned_data


def page_plan(world, params) -> str:
    """EXPLAIN of the page query the browser runs, under its pinned settings."""
    with narrowing.pinned_plans():
        filterset = ItemFilterSet(Request(RequestFactory().get("/", params)).query_params,
                                  queryset=browse.pool(world["alpha"]), project=world["alpha"])
        assert filterset.is_valid()
        sql, sql_params = filterset.qs.order_by("-id")[:51].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, sql_params)
            return "\n".join(row[0] for row in cursor.fetchall())


def forget_statistics():
    """As after a bulk load with autovacuum off: no column statistics, unknown row counts."""
    with connection.cursor() as cursor:
        for table in ("items_item", "annotations_annotation", "waves_waveitem", "learner_itemscore",
                      "annotations_reviewtask"):
            cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [table])
            cursor.execute("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = %s::regclass", [table])


@pytest.mark.parametrize("with_statistics", [False, True])
def test_page_plans_walk_the_order_index_or_read_the_id_list(world, planted, monkeypatch,  # noqa: F811
                                                              with_statistics):
    if with_statistics:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        forget_statistics()
    broad = {"q": "withdrawal", "source": "email", "state": "labeled", "label": "fraud"}
    monkeypatch.setattr(narrowing, "NARROW_CAP", 0)
    walk = page_plan(world, broad)
    # Newest first along an id-ordered index (the project's, or the primary key on a one-project table).
    assert re.search(r"Index Scan Backward using (item_project_order|items_item_pkey) on items_item", walk), walk
    for costly in ("Seq Scan on items_item", "Hash", "Merge", "Sort", "Bitmap"):
        assert costly not in walk.split("SubPlan")[0], walk  # the outer page query
    monkeypatch.setattr(narrowing, "NARROW_CAP", 10**6)
    listed = page_plan(world, broad)
    assert "= ANY" in listed and "Seq Scan on items_item" not in listed, listed


def test_settings_do_not_outlive_the_request_in_a_callers_transaction(world, planted):  # noqa: F811
    def setting(name):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s)", [name])
            return cursor.fetchone()[0]

    before = {name: setting(name) for name in narrowing.TOUCHED}
    assert query(world, {"q": "withdrawal", "source": "email"}).status_code == 200
    assert {name: setting(name) for name in narrowing.TOUCHED} == before
    assert Item.objects.filter(project=world["alpha"]).exists()


def test_a_search_past_the_time_limit_answers_503_saying_how_to_narrow_it(world, planted, monkeypatch,  # noqa: F811
                                                                           client):
    """The one slow case (every filter broad, few matches) walks every item; past the statement
    time limit the API answers 503 and the page says what to do, instead of holding the worker."""
    alpha = world["alpha"]
    Item.objects.bulk_create([Item(project=alpha, text=f"filler text number {i}", text_hash=f"{i:064x}")
                              for i in range(30_000)], batch_size=5_000)
    monkeypatch.setitem(narrowing.PINNED, "statement_timeout", "1")  # 1 ms: the walk over 30,000 rows takes more
    monkeypatch.setattr(narrowing, "candidate_ids", lambda *args: None)  # every filter broad: walk
    slow = query(world, {"q": "nowhere", "state": "unlabeled"})
    assert slow.status_code == 503, slow.content
    assert "Add a filter" in slow.json()["detail"]
    client.force_login(world["lead"])
    page = client.get("/p/alpha/items/", {"q": "nowhere", "state": "unlabeled"})
    assert page.status_code == 503 and b"ran longer than" in page.content
    monkeypatch.setitem(narrowing.PINNED, "statement_timeout", str(narrowing.STATEMENT_TIMEOUT_MS))
    assert query(world, {"q": "nowhere", "state": "unlabeled"}).status_code == 200
