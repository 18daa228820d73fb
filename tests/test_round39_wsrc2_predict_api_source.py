"""Queued predictions go to the project's "api" source by the name rules (services._api_source):
a source whose name looks like "api" in another script (Cyrillic "АРІ", which a lead may name a
source: one script in the word) is reused, never split from a look-alike twin; "api" is created
(quota 0) only when no source looks like it, and reused by the next request."""
import pytest

from labeling.items.models import Item
from labeling.projects.models import Source
from labeling.projects.services import replace_sources
from tests.test_predict import _force_review, api_as, trained, world  # noqa: F401 (fixtures)
from tests.test_round37_fix_predict_blank import _pool_with_room

pytestmark = pytest.mark.django_db

CYRILLIC_API = "\u0410\u0420\u0406"  # А Р І: prints as "API"


def _queue(world, text):  # noqa: F811
    response = api_as(world["lead"]).post("/api/projects/alpha/predict/", {
        "texts": [text], "queue_for_review": True}, format="json")
    assert response.status_code == 200, response.json()
    row = response.json()["results"][0]
    assert row["queued_for_review"], row["review_note"]
    return Item.objects.get(pk=row["queued_item"])


def _ready(world, trained):  # noqa: F811
    alpha = world["alpha"]
    _force_review(trained)  # every prediction is doubtful: each text is queued
    _pool_with_room(alpha, trained)
    alpha.allow_new_sources = True
    alpha.save()
    return alpha


def test_a_source_named_api_in_another_script_is_reused(world, trained):  # noqa: F811
    alpha = _ready(world, trained)
    replace_sources(alpha, [{"id": s.pk, "name": CYRILLIC_API if s.name == "chat" else s.name, "quota": s.quota}
                            for s in alpha.sources.order_by("pk")])
    item = _queue(world, "my gym card was charged by someone else")
    names = sorted(Source.objects.filter(project=alpha).values_list("name", flat=True))
    assert names == sorted([CYRILLIC_API, "email"]), names
    assert item.source.name == CYRILLIC_API


def test_api_is_created_once_when_no_source_looks_like_it(world, trained):  # noqa: F811
    alpha = _ready(world, trained)
    before = set(Source.objects.filter(project=alpha).values_list("name", flat=True))
    first = _queue(world, "my gym card was charged by someone else")
    second = _queue(world, "someone used my card at a gym I never joined")
    created = set(Source.objects.filter(project=alpha).values_list("name", flat=True)) - before
    assert created == {"api"} and first.source_id == second.source_id == Source.objects.get(
        project=alpha, name="api").pk
    assert Source.objects.get(project=alpha, name="api").quota == 0.0
