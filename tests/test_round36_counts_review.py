"""The review queue's counts say who closed a task: a lead (resolved) or no one (expired: a newer
model, or a wave that took the item). An audit found "114 open … 118 resolved" where 108 of the 118
had expired and a lead had decided 10. The counts are of tasks: an item with two open tasks (a
disagreement and a low-confidence prediction) is two tasks, and one item in the item browser's
``in_review`` filter. Tasks are opened by real answers and closed by the real review and wave
services."""
import html
import re

import pytest
from django.utils import timezone

from labeling.annotations.models import ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.modeling.review import release_wave_items
from labeling.projects.models import Membership
from tests.review_helpers import make_items

from .test_annotation_helpers import add_member, api_as, make_open_wave
from .test_review import give

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(project_factory, make_user):
    """Open: a disagreement and a low-confidence task on item 0, a low-confidence task on item 1.
    Closed by the lead: two (one accepted, one relabeled). Expired: two low-confidence tasks whose
    items a wave picked."""
    project = project_factory("rc36", labels=("billing", "login", "fraud"))
    project.overlap = 2
    project.save()
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    _, items = make_open_wave(project, 2, double={0}, texts=["card charged twice", "spare"], shuffle=False)
    give(project, ann, items[0], "billing")
    give(project, bob, items[0], "fraud")  # the disagreement
    low = {"predicted": "billing", "prob": 0.4, "why": "inside the band"}
    for item in items:
        ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, detail=low)
    decided, expiring = make_items(project, 2, prefix="decided"), make_items(project, 2, prefix="expiring")
    for item in decided + expiring:
        ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, detail=low)
    labels = {label.name: label.pk for label in project.labels.all()}
    accepted = resolve_review(project, lead, task_id=ReviewTask.objects.get(item=decided[0]).pk,
                              label_id=labels["billing"])
    relabeled = resolve_review(project, lead, task_id=ReviewTask.objects.get(item=decided[1]).pk,
                               label_id=labels["login"])
    assert (accepted.outcome, relabeled.outcome) == (ReviewTask.ACCEPTED, ReviewTask.RELABELED)
    assert release_wave_items(project, [item.pk for item in expiring], 2) == 2
    return project, lead


def test_api_counts_split_decided_from_expired(queue):
    project, lead = queue
    counts = api_as(lead).get("/api/projects/rc36/review/").json()["counts"]
    assert counts["resolved"] == 2  # the lead's two decisions only; it was 4 with the expired ones
    assert counts["expired"] == 2
    assert counts["closed"] == 4
    assert (counts["open"], counts["disagreement"], counts["low_confidence"]) == (3, 1, 2)
    assert counts["open_items"] == 2


def test_open_items_match_the_item_browsers_in_review_filter(queue):
    project, lead = queue
    counts = api_as(lead).get("/api/projects/rc36/review/").json()["counts"]
    in_review = api_as(lead).get("/api/projects/rc36/items/", {"state": "in_review"}).json()["results"]
    assert counts["open"] == 3 and len(in_review) == counts["open_items"] == 2


def text_of(page: str, element_id: str) -> str:
    """The text of the element with this id (its tags dropped, whitespace collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|span)>', page, re.S)
    assert match, element_id
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def test_review_page_says_tasks_and_who_closed_them(client, queue):
    project, lead = queue
    client.force_login(lead)
    page = client.get("/p/rc36/review/").content.decode()
    assert text_of(page, "count-open") == "3 open tasks on 2 items"
    assert text_of(page, "count-resolved") == "2 resolved by a lead"
    assert text_of(page, "count-expired").startswith("2 expired, closed without a lead")
    # The groups count tasks too: billing's group holds both low-confidence tasks (items 0 and 1).
    groups = re.findall(r'class="muted group-count">([^<]*)<', page)
    assert groups and all(re.fullmatch(r"\d+ tasks?", g) for g in groups), groups
    assert "2 tasks" in groups


def test_a_task_without_outcome_is_a_leads_only_when_it_names_one(queue):
    """Rows closed before outcomes were recorded: with a resolver (a lead decided), without one (no
    one did). Written directly: no service closes a task without an outcome any more."""
    project, lead = queue
    legacy = make_items(project, 2, prefix="legacy")
    ReviewTask.objects.create(project=project, item=legacy[0], reason=ReviewTask.LOW_CONFIDENCE,
                              resolved_at=timezone.now(), resolved_by=lead)
    ReviewTask.objects.create(project=project, item=legacy[1], reason=ReviewTask.LOW_CONFIDENCE,
                              resolved_at=timezone.now())
    counts = api_as(lead).get("/api/projects/rc36/review/").json()["counts"]
    assert (counts["resolved"], counts["expired"], counts["closed"]) == (3, 3, 6)
