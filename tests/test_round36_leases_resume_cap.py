"""Asking for a batch while holding one (the page's Start in another tab, an API client polling
``batches/``) renews the held leases only up to the renewal limit (LONGTAIL_LEASE_RENEWAL_PERIODS
lease periods after the batch's last lease or the annotator's last answer). Past it the batch is
not handed back: its leases are let go, and a fresh batch is leased, the items let go going to
others first."""
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.annotations.models import Assignment
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, api_as, ask_batch, make_open_wave, short_lease_project

SLUG = "resume-cap"
PERIOD = 60


@pytest.fixture
def project(project_factory, settings):
    return short_lease_project(project_factory, settings, SLUG, lease_seconds=PERIOD)


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


@pytest.fixture
def bob(make_user, project):
    return add_member(make_user, project, "bob")


def leased_ago(assignment_ids, seconds, *, expires_in=20):
    """The batch was leased ``seconds`` ago and its leases, renewed since, run out in ``expires_in``."""
    now = timezone.now()
    Assignment.objects.filter(pk__in=assignment_ids).update(
        leased_at=now - timedelta(seconds=seconds), expires_at=now + timedelta(seconds=expires_in))


def test_asking_again_extends_the_held_batch_only_up_to_the_renewal_limit(project, ann):
    make_open_wave(project, 4)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    leased_ago(ids, 90)  # the limit: 2 periods after the lease, 30 s from now

    again = ask_batch(ann, SLUG)
    assert again["resumed"] and [row["assignment"] for row in again["items"]] == ids
    limit = timezone.now() + timedelta(seconds=31)
    for a in Assignment.objects.filter(pk__in=ids):
        assert a.state == Assignment.LEASED
        assert timezone.now() + timedelta(seconds=25) < a.expires_at <= limit  # not a whole period: 60 s
    assert all(row["expires_at"] == again["items"][0]["expires_at"] for row in again["items"])


def test_past_the_limit_the_held_batch_is_let_go_and_others_get_its_items(project, ann, bob):
    _, items = make_open_wave(project, 4)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    assert [row["item"] for row in first["items"]] == [items[0].pk, items[1].pk]
    leased_ago(ids, 150)  # still live, but 30 s past the limit: nobody answered since

    fresh = ask_batch(ann, SLUG)
    assert not fresh["resumed"]
    assert [row["item"] for row in fresh["items"]] == [items[2].pk, items[3].pk]  # the next free items
    assert set(Assignment.objects.filter(pk__in=ids).values_list("state", flat=True)) == {Assignment.EXPIRED}
    assert list(WaveItem.objects.filter(item__in=items[:2]).values_list("slots_taken", flat=True)) == [0, 0]

    theirs = ask_batch(bob, SLUG)  # the items let go are free for others at once
    assert [row["item"] for row in theirs["items"]] == [items[0].pk, items[1].pk]
    # ann's fresh batch has its own clock: asking again now hands it back.
    assert ask_batch(ann, SLUG)["resumed"]


def test_a_lone_annotator_past_the_limit_gets_their_items_back_one_lease_period_later(project, ann):
    _, items = make_open_wave(project, 2)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    leased_ago(ids, 150)

    empty = ask_batch(ann, SLUG)  # let go idle: not theirs again for one lease period (idle_leases)
    assert not empty["resumed"] and empty["items"] == [] and empty["waiting"]["reason"] == "let_go_idle"
    now = timezone.now()
    Assignment.objects.filter(pk__in=ids).update(leased_at=now - timedelta(seconds=3 * PERIOD + 31),
                                                 expires_at=now - timedelta(seconds=PERIOD + 1))
    fresh = ask_batch(ann, SLUG)
    assert not fresh["resumed"]
    assert [row["item"] for row in fresh["items"]] == [items[0].pk, items[1].pk]  # nothing else is free
    assert not {row["assignment"] for row in fresh["items"]} & set(ids)  # new leases, with a new limit
    assert list(WaveItem.objects.filter(item__in=items).values_list("slots_taken", flat=True)) == [1, 1]
    for row in fresh["items"]:
        a = Assignment.objects.get(pk=row["assignment"])
        assert a.state == Assignment.LEASED and a.leased_at > now - timedelta(seconds=5)


def test_an_answer_in_the_batch_moves_the_limit_for_the_batch_asked_again(project, ann):
    make_open_wave(project, 4)
    first = ask_batch(ann, SLUG)
    ids = [row["assignment"] for row in first["items"]]
    label = project.labels.get(name="billing")
    response = api_as(ann).post("/api/projects/resume-cap/annotations/",
                                {"client_id": "5d0c4c39-0b6b-4d8b-9a41-111111111111", "assignment": ids[0],
                                 "label": label.pk}, format="json")
    assert response.status_code == 201, response.content
    leased_ago(ids[1:], 150)  # leased long ago, but answered in just now

    again = ask_batch(ann, SLUG)
    assert again["resumed"] and [row["assignment"] for row in again["items"]] == ids[1:]
    a = Assignment.objects.get(pk=ids[1])
    assert a.expires_at > timezone.now() + timedelta(seconds=PERIOD - 5)
