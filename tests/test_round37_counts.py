"""Items skipped by everyone. The planner never draws an answered item again, a skipped one
included (labeling.waves.pool.off_limits_items), yet the overview counted items whose live answers
are all skips as "unlabeled in the pool", and so did the estimates' coverage. Now the pool is what
the planner can still draw, the skipped items are their own figure on the overview and in the
coverage statement, and total = labeled + pool + skipped + excluded − excluded labeled."""
import uuid

import pytest
from django.db.models import F
from django.test import Client

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.projects.selectors import item_counts
from labeling.waves.models import Wave, WaveItem
from labeling.waves.pool import off_limits_items
from learner.text import text_hash
from tests.review_helpers import add_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def skipped_project(project_factory, make_user):
    """10 items over two sources: 2 labeled, 3 skipped by everyone (one of them by two annotators,
    one excluded since), 1 skipped by one annotator and labeled by another, 1 excluded unlabeled,
    1 whose only answer was cleared, 2 never answered."""
    project = project_factory("skip37")
    lead, other = make_user("lead37"), make_user("ann37")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=other, project=project, role=Membership.ANNOTATOR)
    chat, email = project.sources.order_by("name")
    label = project.labels.first()
    items = [Item.objects.create(project=project, source=email if i % 2 else chat, text=f"skip item {i}",
                                 text_hash=text_hash(f"skip item {i}")) for i in range(10)]
    # each its own duplicate group, as the importer founds them (the exact hash masks digits)
    Item.objects.filter(project=project).update(dup_group=F("id"))

    def answer(item, who=lead, **fields):
        Annotation.objects.create(project=project, item=item, annotator=who, client_id=uuid.uuid4(),
                                  label=None if fields.get("skipped") else label, **fields)

    answer(items[0])
    answer(items[1])
    answer(items[2], skipped=True)
    answer(items[3], skipped=True)
    answer(items[3], who=other, skipped=True)
    answer(items[4], skipped=True)  # excluded below: counted with the excluded items
    answer(items[5], skipped=True)
    answer(items[5], who=other)  # one skip and one label: labeled
    answer(items[6], undone=True)
    Item.objects.filter(pk__in=[items[4].pk, items[7].pk]).update(excluded=True)
    return project, lead, items


def test_the_pool_is_what_the_planner_can_draw_and_skipped_items_are_counted_apart(skipped_project):
    project, _, items = skipped_project
    counts = item_counts(project)
    drawable = {item.pk for item in items} - off_limits_items(project)  # no wave, lease or pin here
    assert counts["pool"] == len(drawable) == 3, (counts, drawable)  # items 6 (cleared), 8, 9
    assert counts["skipped"] == 2  # items 2 and 3; item 4 is excluded
    assert counts["total"] == (counts["labeled"] + counts["pool"] + counts["skipped"] + counts["excluded"]
                               - counts["excluded_labeled"]) == 10


def test_overview_shows_the_drawable_pool_and_the_skipped_figure_as_the_browser_filters_do(skipped_project):
    project, lead, _ = skipped_project
    client = Client()
    client.force_login(lead)
    body = client.get(f"/p/{project.slug}/").content.decode()
    line = body[body.index('id="overview-items"'):][:1200]

    def count(query):
        response = client.get(f"/api/projects/{project.slug}/items/?count=true&{query}", HTTP_ACCEPT="application/json")
        assert response.status_code == 200, response.content[:300]
        return response.json()["count"]

    skipped = count("state=skipped&excluded=false")
    pool = count("excluded=false") - count("state=labeled&excluded=false") - skipped
    assert (pool, skipped) == (3, 2)
    assert f">{pool} unlabeled in the pool</span>" in line, line
    assert f">{skipped} skipped by everyone</span>" in line, line
    assert "(3 labeled, " in line and ", 2 excluded by a lead)" in line, line


def test_estimates_coverage_counts_the_same_pool_and_names_the_skipped_items(skipped_project):
    """A version whose one answered known-π pick (item 0, chat) makes a coverage statement: the
    pool it is measured against is the overview's, and the skipped items are named, not dropped."""
    project, lead, items = skipped_project
    version = add_version(project, 1, {items[0].pk: (0, 0.9)})
    wave = Wave.objects.create(project=project, number=1, state=Wave.CLOSED, model_version=version, size=1)
    WaveItem.objects.create(wave=wave, item=items[0], strategy="random", inclusion_prob=0.5)
    counts = item_counts(project)
    covered = version_estimates(project)[1]["sample"]["coverage"]
    # chat holds the even items: 6 and 8 in the pool (0 labeled, 2 skipped, 4 excluded); email: 9
    assert (covered["items"], covered["pool_items"]) == (2, 3), covered  # before: 3 of 5, the skipped counted
    assert covered["skipped_items"] == 2
    assert (covered["pool_items"], covered["skipped_items"]) == (counts["pool"], counts["skipped"])
    assert covered["summary"] == (
        "The figures cover source chat (2 of 3 unlabeled items); email had no pick drawn in these waves, so "
        "nothing here speaks for its 1 unlabeled items; 2 items skipped by everyone are not in the pool "
        "(the planner never draws an answered item again)")
    # the dashboard's API serves the same statement
    client = Client()
    client.force_login(lead)
    response = client.get(f"/api/projects/{project.slug}/dashboard/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["estimates"]["sample"]["coverage"] == covered
