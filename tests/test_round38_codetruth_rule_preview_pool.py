"""README ("the rules editor shows how many pool items each rule matches before saving"; API:
"POST rules/preview/: how many pool items a rule would match") and preview_rule's docstring say the
preview counts pool items. The pool, as the overview and the planner define it
(labeling.projects.selectors.IN_POOL, labeling.waves.pool.off_limits_items), is the items with no
live answer that no lead excluded. preview_rule scans Item.objects.filter(project=project): labeled
and excluded items are counted too, so a lead sees matches the planner can never draw."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.selectors import item_counts
from learner.text import text_hash

pytestmark = pytest.mark.django_db


def test_the_preview_counts_only_pool_items(world):
    project = world["alpha"]
    source = project.sources.first()
    texts = ["I want a refund now", "refund for my order please", "please refund me", "nothing to see here"]
    items = [Item.objects.create(project=project, source=source, text=t, text_hash=text_hash(t)) for t in texts]
    Annotation.objects.create(project=project, item=items[0], annotator=world["annotator"],
                              label=project.labels.first(), origin=Annotation.ANNOTATOR)  # labeled: out of the pool
    Item.objects.filter(pk=items[1].pk).update(excluded=True)  # excluded by a lead: out of the pool
    assert item_counts(project)["pool"] == 2  # "please refund me" and "nothing to see here"

    api = APIClient()
    api.force_authenticate(world["lead"])
    reply = api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": "refund"}, format="json")
    assert reply.status_code == 200, reply.content
    body = reply.json()
    # today: {"scanned": 4, "matches": 3, ...}: the labeled and the excluded item are counted as matches
    assert (body["scanned"], body["matches"]) == (2, 1), body
    assert [e["id"] for e in body["examples"]] == [items[2].pk]
