"""items/?strategy= is a choice over the strategies a pick can record (the planner's registry, its
random slice and fill, a lead's pins): a name that is none of them answers 400 naming the parameter,
as every other bad filter value does, where it answered 200 with an empty list."""
import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_api(world):
    project = world["alpha"]
    wave = Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=2)
    for position, strategy in enumerate(["rare", "random"]):
        text = f"picked by {strategy}"
        item = Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
        WaveItem.objects.create(wave=wave, item=item, strategy=strategy, reason="", position=position)
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


@pytest.mark.parametrize("value", ["nope", "Rare", "margin"])
def test_unknown_strategy_is_refused_naming_it(lead_api, value):
    reply = lead_api.get("/api/projects/alpha/items/", {"strategy": value})
    assert reply.status_code == 400
    message = reply.json()["strategy"][0]
    assert value in message and "rare" in message and "label_names" in message


@pytest.mark.parametrize("value,texts", [
    ("rare", ["picked by rare"]), ("random", ["picked by random"]), ("uncertainty", []), ("fill", []),
    ("pinned", []), ("sampled_uncertainty", []), ("", ["picked by random", "picked by rare"]),
])
def test_known_strategies_filter(lead_api, value, texts):
    reply = lead_api.get("/api/projects/alpha/items/", {"strategy": value})
    assert reply.status_code == 200
    assert sorted(row["text"] for row in reply.json()["results"]) == texts


def test_browse_page_refuses_it_too(world, client):
    client.force_login(world["lead"])
    assert client.get("/p/alpha/items/?strategy=nope").status_code == 400
    assert client.get("/p/alpha/items/?strategy=rare").status_code == 200
