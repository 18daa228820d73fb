"""Items whose lease of an annotator ended idle at the renewal limit (LONGTAIL_LEASE_RENEWAL_PERIODS
lease periods after the batch's lease or the annotator's last answer) are not leased to that
annotator again for one lease period (labeling.annotations.idle_leases); other annotators get them
at once. Before, an API client that kept asking got the same items straight back as a fresh batch
whenever nobody else had taken them: the renewal limit never let them go."""
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, api_as, ask_batch, make_open_wave, short_lease_project

SLUG = "idle37"
PERIOD = 60  # seconds; the renewal limit is 2 periods


@pytest.fixture
def project(project_factory, settings):
    return short_lease_project(project_factory, settings, SLUG, lease_seconds=PERIOD)


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


@pytest.fixture
def bob(make_user, project):
    return add_member(make_user, project, "bob")


def items_of(batch):
    return [row["item"] for row in batch["items"]]


def lease_times(assignment_ids, *, leased_ago, ended_ago):
    """The leases were leased ``leased_ago`` seconds ago and ran out ``ended_ago`` seconds ago."""
    now = timezone.now()
    Assignment.objects.filter(pk__in=assignment_ids).update(
        leased_at=now - timedelta(seconds=leased_ago), expires_at=now - timedelta(seconds=ended_ago))


def test_a_batch_run_out_at_the_renewal_limit_is_not_leased_straight_back(project, ann, bob):
    """An API client that kept asking renewed its batch up to the limit; the leases ran out there."""
    _, items = make_open_wave(project, 4)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    assert items_of(first) == [items[0].pk, items[1].pk]
    lease_times(ids, leased_ago=2 * PERIOD + 5, ended_ago=5)  # ended at the limit, 5 s ago

    fresh = ask_batch(ann, SLUG)
    assert not fresh["resumed"]
    assert items_of(fresh) == [items[2].pk, items[3].pk]  # before: items 0 and 1 again
    assert items_of(ask_batch(bob, SLUG)) == [items[0].pk, items[1].pk]  # others get them at once


def test_a_lone_annotator_waits_one_lease_period_for_the_items_let_go_past_the_limit(project, ann):
    _, items = make_open_wave(project, 2)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    now = timezone.now()
    # Still live, but 30 s past the limit: asking again lets them go, now.
    Assignment.objects.filter(pk__in=ids).update(leased_at=now - timedelta(seconds=2 * PERIOD + 30),
                                                 expires_at=now + timedelta(seconds=20))

    empty = ask_batch(ann, SLUG)
    assert empty["items"] == [] and not empty["resumed"]
    let_go = Assignment.objects.filter(pk__in=ids)
    assert set(let_go.values_list("state", flat=True)) == {Assignment.EXPIRED}
    assert all(a.expires_at <= timezone.now() for a in let_go)  # they ended when let go
    assert list(WaveItem.objects.filter(item__in=items).values_list("slots_taken", flat=True)) == [0, 0]
    waiting = empty["waiting"]
    assert waiting["reason"] == "let_go_idle", waiting
    assert "2 items you held without an answer until the renewal limit" in waiting["message"]
    back_at = timezone.datetime.fromisoformat(waiting["back_at"])
    assert timezone.now() + timedelta(seconds=PERIOD - 5) < back_at <= timezone.now() + timedelta(seconds=PERIOD)
    assert ask_batch(ann, SLUG)["items"] == []  # asking again changes nothing

    # One lease period later they are theirs again, as a new batch.
    Assignment.objects.filter(pk__in=ids).update(leased_at=now - timedelta(seconds=3 * PERIOD + 31),
                                                 expires_at=now - timedelta(seconds=PERIOD + 1))
    back = ask_batch(ann, SLUG)
    assert items_of(back) == [items[0].pk, items[1].pk]
    assert not {row["assignment"] for row in back["items"]} & set(ids)


def test_a_lease_that_ran_out_before_the_limit_comes_back_at_once(project, ann):
    """A tab closed (the page stopped renewing) before the limit: a lone annotator who paused is
    given the items again, as before."""
    _, items = make_open_wave(project, 2)
    first = ask_batch(ann, SLUG)
    lease_times([row["assignment"] for row in first["items"]], leased_ago=PERIOD + 10, ended_ago=10)

    assert items_of(ask_batch(ann, SLUG)) == [items[0].pk, items[1].pk]


def test_an_answer_in_the_last_periods_means_the_lease_was_not_idle(project, ann):
    """Answered 100 s before its end, the batch's limit was 140 s after it: it ran out earlier."""
    _, items = make_open_wave(project, 3)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    label = project.labels.get(name="billing")
    response = api_as(ann).post("/api/projects/idle37/annotations/", {
        "client_id": "5d0c4c39-0b6b-4d8b-9a41-373737373737", "assignment": ids[0], "label": label.pk,
    }, format="json")
    assert response.status_code == 201, response.content
    Annotation.objects.filter(assignment_id=ids[0]).update(created_at=timezone.now() - timedelta(seconds=105))
    lease_times(ids[1:], leased_ago=4 * PERIOD, ended_ago=5)

    assert items_of(ask_batch(ann, SLUG))[0] == items[1].pk  # its unanswered item, back at once

