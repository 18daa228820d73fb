"""An exclusion takes the item out of the planned and open waves where nobody holds it (waves.discard):
the item page's question, the bulk API's description and docs/loop.md say so; and docs/loop.md lists
"the text is empty" among the predict queue's review_note reasons (it said only "not doubtful, the
queue is full, a labeled item")."""
from pathlib import Path

import pytest

from labeling.items.models import Item
from learner.text import text_hash
from tests.test_annotation_helpers import api_as

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[1] / "docs" / "loop.md"


def test_the_item_page_asks_with_what_an_exclusion_does_to_waves(client, world):
    alpha = world["alpha"]
    item = Item.objects.create(project=alpha, source=alpha.sources.first(), text="card stolen", text_hash=text_hash("card stolen"))
    client.force_login(world["lead"])
    page = client.get(f"/p/alpha/items/{item.pk}/").content.decode()
    assert ('data-confirm="Exclude this item from the pool? Later waves will not plan it, and it leaves the planned '
            'and open waves where nobody holds it."') in page


def test_the_bulk_api_describes_what_exclude_does_to_waves(world):
    schema = api_as(world["admin"]).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    description = " ".join(schema["paths"]["/api/projects/{slug}/items/bulk/"]["post"]["description"].split())
    assert "exclude also takes the items out of the planned and open waves where nobody holds them" in description


def test_the_loop_doc_lists_an_empty_text_among_the_review_notes():
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    start = text.index("when not queued, `review_note` (")
    reasons = text[start:text.index(")", start + 30)]
    assert "the text is empty" in reasons, reasons
