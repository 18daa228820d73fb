"""Item browser paging over tied sort keys: following "← Previous" from the last page gives back
exactly the pages "Next →" gave, for every sort and filter, in the API and on the page. The old
cursor held the confidence alone and stepped over ties with an offset, which walking back lost
items by. NULL sort values go where PostgreSQL's order puts them (checked on a nullable column)."""
import re

import numpy as np
import pytest
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.test import APIClient

from labeling.items import browse, paging
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from learner.text import text_hash

pytestmark = pytest.mark.django_db

SORTS = ["newest", "oldest", "confidence_desc", "confidence_asc"]
FILTERS = ["", "&q=word1", "&min_confidence=0.3", "&max_confidence=0.8&q=word1", "&min_confidence=0.4&max_confidence=0.8"]
TIED = [0.5, 0.75, 0.9, 0.3]  # most items share one of these four scores


@pytest.fixture
def tied(world):
    project = world["alpha"]
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                          label_map=["billing", "login", "fraud"])
    texts = [f"refund word{i % 4} item {i}" for i in range(60)]
    items = Item.objects.bulk_create([Item(project=project, text=t, text_hash=text_hash(t)) for t in texts])
    rng = np.random.default_rng(0)
    scores = []
    for k, item in enumerate(items):
        prob = TIED[k % 4] if k % 3 else float(np.float16(rng.uniform(0.34, 1)))
        probs = np.full(3, (1 - prob) / 2, dtype="<f2")
        probs[k % 3] = prob
        scores.append(ItemScore(item=item, model_version=version, probs=probs.tobytes(), top_label=k % 3,
                                top_prob=prob, margin=0.1, entropy=0.5, fallback=False))
    ItemScore.objects.bulk_create(scores)
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def api_page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    return [row["id"] for row in body["results"]], body["next"], body["previous"]


def walk_both_ways(fetch, url):
    """(pages following next from url, pages following previous back from the last of them)."""
    forward, last = [], None
    while url:
        ids, following, _ = fetch(url)
        forward.append(ids)
        last, url = url, following
    backward = []
    while last:
        ids, _, last = fetch(last)
        backward.insert(0, ids)
    return forward, backward


@pytest.mark.parametrize("size", [5, 7])
@pytest.mark.parametrize("extra", FILTERS)
@pytest.mark.parametrize("sort", SORTS)
def test_api_back_pages_equal_forward_pages(tied, sort, extra, size):
    base = f"/api/projects/alpha/items/?sort={sort}&page_size={size}{extra}"
    everything = api_page(tied, base.replace(f"page_size={size}", "page_size=200"))[0]
    assert len(everything) > size  # several pages
    forward, backward = walk_both_ways(lambda url: api_page(tied, url), base)
    assert sum(forward, []) == everything
    assert backward == forward


def html_page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()

    def link(name):
        found = re.search(rf'href="([^"]+)" id="page-{name}"', html)
        return found and found.group(1).replace("&amp;", "&")

    return [int(x) for x in re.findall(r'data-item="(\d+)"', html)], link("next"), link("previous")


@pytest.mark.parametrize("size", [5, 7])
@pytest.mark.parametrize("sort", ["confidence_desc", "confidence_asc"])
def test_page_previous_links_give_the_same_pages(tied, world, client, sort, size):
    client.force_login(world["lead"])
    base = f"/p/alpha/items/?sort={sort}&page_size={size}"
    forward, backward = walk_both_ways(lambda url: html_page(client, url), base)
    assert len(forward) > 2
    assert backward == forward
    assert sorted(sum(forward, [])) == sorted(Item.objects.filter(project=world["alpha"]).values_list("id", flat=True))


class ByGroup(paging.ItemCursorPagination):
    """The items' paginator on a nullable first field (confidence itself is never NULL)."""

    page_size = 3

    def get_ordering(self, request, queryset, view):
        return self.ordering


@pytest.mark.parametrize("ordering", [("-dup_group", "-id"), ("dup_group", "id")])
def test_null_keys_sit_where_postgresql_orders_them(world, ordering):
    project = world["alpha"]
    for k in range(14):  # ties and NULLs in the first field
        group = None if k % 4 == 0 else k % 3
        Item.objects.create(project=project, text=f"t{k}", text_hash=text_hash(f"t{k}"), dup_group=group)
    queryset = Item.objects.filter(project=project)
    expected = list(queryset.order_by(*ordering).values_list("id", flat=True))

    def fetch(url):
        paginator = ByGroup()
        paginator.ordering = ordering
        rows = paginator.paginate_queryset(queryset, Request(RequestFactory().get(url)))
        return [row.id for row in rows], paginator.get_next_link(), paginator.get_previous_link()

    forward, backward = walk_both_ways(fetch, "/x/")
    assert sum(forward, []) == expected
    assert backward == forward


@pytest.mark.parametrize("cursor", ["garbage", "eyJyIjowfQ==", "eyJyIjowLCJrIjpbIngiLDFdfQ==",
                                    "eyJyIjowLCJrIjpbMV19", "eyJyIjowLCJrIjpbMC41LDEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMF19", "eyJyIjoxLCJrIjpbTmFOLDFdfQ=="])
def test_edited_cursor_is_404(tied, cursor):
    # not base64 / no key / a text value / one value for a two-field sort / an id past bigint / NaN
    response = tied.get("/api/projects/alpha/items/", {"sort": "confidence_desc", "cursor": cursor})
    assert response.status_code == 404


def test_confidence_cursor_is_an_index_range(tied, world):
    """The scores' confidence is never NULL (an inner join on a NOT NULL column), so a page after
    a cursor starts at a plain range on it, which the (model_version, top_prob) index can seek to;
    a nullable column keeps its IS NULL arm."""
    version = ModelVersion.objects.get(project=world["alpha"])
    scored = browse.with_confidence(browse.pool(world["alpha"]), version)
    assert paging.nullable_fields(scored, ["confidence", "id"]) == frozenset()
    assert paging.nullable_fields(browse.pool(world["alpha"]), ["dup_group", "id"]) == {"dup_group"}
    for ordering, bound in ((("confidence", "id"), ">="), (("-confidence", "-id"), "<=")):
        sql = str(scored.filter(paging.after(ordering, (0.5, 10), frozenset())).query)
        assert f'"{ItemScore._meta.db_table}"."top_prob" {bound} 0.5 AND' in sql, sql
        assert "IS NULL" not in sql
