"""Which items are "in the pool". The overview said "1005 items in the pool" counting every item,
labeled and excluded ones included, while the estimates' coverage said "847 of 847 unlabeled items"
counting excluded items the planner can never draw (so no estimate speaks for them). Now the
estimates leave excluded items out, and the overview says how many items there are, how many are
unlabeled in the pool, and how many are labeled or excluded, each count the item browser's filter
of the same name."""
import uuid

import pytest
from django.db.models import F
from django.test import Client

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.estimates import _unlabeled_by_source
from labeling.projects.models import Membership
from learner.text import text_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(project_factory, make_user):
    """12 items over two sources: 3 labeled (one of them then excluded), 2 excluded unlabeled, 1
    skipped only, 1 whose answer was cleared, 5 never answered."""
    project = project_factory("pool36")
    lead = make_user("lead36")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    chat, email = project.sources.order_by("name")
    label = project.labels.first()
    items = []
    for i in range(12):
        text = f"pool item {i}"
        items.append(Item.objects.create(project=project, source=email if i % 2 else chat, text=text,
                                         text_hash=text_hash(text)))
    # each its own duplicate group, as the importer founds them (the exact hash masks digits)
    Item.objects.filter(project=project).update(dup_group=F("id"))

    def answer(item, **fields):
        Annotation.objects.create(project=project, item=item, annotator=lead, client_id=uuid.uuid4(),
                                  label=None if fields.get("skipped") else label, **fields)

    for item in items[:3]:
        answer(item)
    answer(items[3], skipped=True)
    answer(items[4], undone=True)
    Item.objects.filter(pk__in=[items[2].pk, items[5].pk, items[6].pk]).update(excluded=True)
    return project, lead, items


def test_estimates_coverage_leaves_excluded_items_out(mixed):
    project, _, _ = mixed
    unlabeled, skipped = _unlabeled_by_source(project)
    # 12 items − 3 labeled − 2 excluded unlabeled (the labeled excluded one is labeled already) − 1
    # skipped only (never drawn again: tests/test_round37_counts.py)
    assert (sum(unlabeled.values()), skipped) == (6, 1), unlabeled
    email = project.sources.get(name="email")
    # email holds items 1, 3, 5, 7, 9, 11: 1 labeled, 3 skipped, 5 excluded
    assert unlabeled[email.pk] == 3


def test_overview_counts_items_pool_labeled_and_excluded_as_the_browser_filters_do(mixed):
    project, lead, _ = mixed
    client = Client()
    client.force_login(lead)
    body = client.get(f"/p/{project.slug}/").content.decode()
    line = body[body.index('id="overview-items"'):][:1200]
    assert "items in the pool" not in body, "every item is not in the pool"

    def count(query):
        response = client.get(f"/api/projects/{project.slug}/items/?count=true&{query}", HTTP_ACCEPT="application/json")
        assert response.status_code == 200, response.content[:300]
        return response.json()["count"]

    labeled, excluded = count("state=labeled"), count("excluded=true")
    excluded_labeled = count("state=labeled&excluded=true")
    skipped = count("state=skipped&excluded=false")
    total = count("")
    pool = total - labeled - excluded + excluded_labeled - skipped
    assert (total, labeled, excluded, excluded_labeled, skipped, pool) == (12, 3, 3, 1, 1, 6)
    assert f"{total} items ·" in line, line
    assert f">{pool} unlabeled in the pool</span>" in line, line
    assert f"({labeled} labeled, " in line, line
    assert (f"{skipped} skipped by everyone</span>, {excluded} excluded by a lead, {excluded_labeled} of them "
            "labeled)") in line, line
    assert "· 0 waves ·" in line
