"""One item-browser request with the "predicted" filter works out where the active model's scores
of that label are (its own column, the columns whose fallbacks emit it) once: the index condition,
the narrowing probe (PostgreSQL) and the exact condition each worked them out again, and each
time read the project's labels. The rows are unchanged (a coarse → fine model's fallbacks listed
under their coarse label: tests/test_fallback_shown_pages.py)."""
import re
import sys

import pytest

# The browser's modules, loaded before the calls are counted: one importing the function while it
# is replaced would keep the counting one for later tests.
from labeling.items import browse, browse_api, browse_views, filters  # noqa: F401
from labeling.modeling import decoding
from tests.test_fallback_shown_pages import world  # noqa: F401 - the fallback pages' world: a served coarse → fine model

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted_emitting_columns(monkeypatch):
    """Calls of decoding.emitting_columns, wherever the app's modules hold it (the real function runs)."""
    original = decoding.emitting_columns
    calls = []

    def counting(version, label_id):
        calls.append((version.pk, label_id))
        return original(version, label_id)

    for name, module in list(sys.modules.items()):
        if (name == "labeling" or name.startswith("labeling.")) and getattr(module, "emitting_columns", None) is original:
            monkeypatch.setattr(module, "emitting_columns", counting)
    return calls


@pytest.mark.parametrize("query", ["predicted=neg", "predicted=late", "predicted=neg&min_confidence=0.1"])
def test_a_page_request_works_out_the_emitting_columns_once(world, counted_emitting_columns, query):  # noqa: F811
    project, _, kinds, client = world
    response = client.get(f"/p/{project.slug}/items/?{query}")
    assert response.status_code == 200
    listed = {int(i) for i in re.findall(r'data-item="(\d+)"', response.content.decode())}
    assert listed == (set(kinds["A"]) if "neg" in query else set(kinds["B"]) | set(kinds["D"]))
    assert len(counted_emitting_columns) == 1, counted_emitting_columns


def test_an_api_request_works_out_the_emitting_columns_once(world, counted_emitting_columns):  # noqa: F811
    project, _, kinds, client = world
    response = client.get(f"/api/projects/{project.slug}/items/?predicted=neg&count=true")
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == set(kinds["A"])
    assert len(counted_emitting_columns) == 1, counted_emitting_columns
    # the next request reads the version again, and works them out again (nothing kept past a request)
    assert client.get(f"/api/projects/{project.slug}/items/?predicted=neg").status_code == 200
    assert len(counted_emitting_columns) == 2
