"""Lease renewal says which of the page's leases are still held and which were lost, and why; it
takes a lapsed lease back exactly where an answer on it would be stored; a check-in extends
nothing; renewals stop a number of lease periods after the batch's last lease or answer."""
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from labeling.annotations import leasing, renewal, services
from labeling.annotations.models import Assignment
from labeling.projects.models import Label
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, api_as, make_open_wave


@pytest.fixture
def project(project_factory):
    p = project_factory("renewals")
    p.batch_size = 3
    p.save()
    return p


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


@pytest.fixture
def bob(make_user, project):
    return add_member(make_user, project, "bob")


def renew(user, ids, **extra):
    response = api_as(user).post("/api/projects/renewals/batches/renew/", {"assignments": ids, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def lapse(assignments):
    """The leases ran out (the tab slept) and a later lease's sweep gave their slots back."""
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        expires_at=timezone.now() - timedelta(seconds=1))


def submit(project, user, assignment_id):
    label = Label.objects.get(project=project, name="billing")
    return services.submit_answer(project, user, client_id=uuid.uuid4(), assignment_id=assignment_id,
                                  label_id=label.pk)


def test_leases_another_annotator_took_come_back_lost_and_their_answers_are_refused(project, ann, bob):
    make_open_wave(project, 3)
    mine = leasing.lease_batch(project, ann).assignments
    lapse(mine)
    assert len(leasing.lease_batch(project, bob).assignments) == 3  # bob's lease sweeps and takes them

    body = renew(ann, [a.pk for a in mine])
    assert body["renewed"] == 0 and body["held"] == []
    assert [(row["assignment"], row["item"], row["reason"]) for row in body["lost"]] == [
        (a.pk, a.wave_item.item_id, "taken") for a in mine]
    assert "other annotators took" in body["lost"][0]["message"]
    # The page drops them: an answer would be refused, as the renewal said.
    with pytest.raises(services.AnswerRejected, match="other annotators took"):
        submit(project, ann, mine[0].pk)


def test_a_lapsed_lease_whose_slot_is_still_free_is_taken_again_as_an_answer_would_be(project, ann):
    make_open_wave(project, 3)
    mine = leasing.lease_batch(project, ann).assignments
    lapse(mine[:2])
    with transaction.atomic():  # the sweep each lease runs first; the first two: expired, their slots back in the pool
        leasing.expire_stale(timezone.now())
    lapse(mine[2:])  # the third: past its time only, no sweep since

    body = renew(ann, [a.pk for a in mine])
    assert body["lost"] == [] and body["renewed"] == 3
    assert [row["assignment"] for row in body["held"]] == [a.pk for a in mine]
    now = timezone.now()
    for a in mine:
        a.refresh_from_db()
        assert a.state == Assignment.LEASED and a.expires_at > now
    assert list(WaveItem.objects.filter(assignments__in=mine).values_list("slots_taken", flat=True)) == [1, 1, 1]
    assert submit(project, ann, mine[0].pk).created


def test_an_item_answered_in_another_tab_is_lost_as_answered(project, ann):
    make_open_wave(project, 2)
    mine = leasing.lease_batch(project, ann).assignments
    submit(project, ann, mine[0].pk)  # the other tab
    body = renew(ann, [a.pk for a in mine])
    assert [row["assignment"] for row in body["held"]] == [mine[1].pk]
    assert [(row["assignment"], row["reason"]) for row in body["lost"]] == [(mine[0].pk, "answered")]


def test_after_its_wave_closed_a_lapsed_lease_is_lost_once_the_item_is_in_a_newer_wave(project, ann):
    wave, items = make_open_wave(project, 2)
    mine = leasing.lease_batch(project, ann).assignments
    lapse(mine)
    Wave.objects.filter(pk=wave.pk).update(state=Wave.CLOSED)
    newer = Wave.objects.create(project=project, number=2, state=Wave.PLANNED, size=1)
    WaveItem.objects.create(wave=newer, item_id=mine[0].wave_item.item_id, strategy="random")

    body = renew(ann, [a.pk for a in mine])
    assert [(row["assignment"], row["reason"]) for row in body["lost"]] == [(mine[0].pk, "wave_closed")]
    # The other item is in no newer wave: an answer would be stored, so the lease is taken again.
    assert [row["assignment"] for row in body["held"]] == [mine[1].pk]


def test_a_check_in_extends_nothing_and_still_says_what_was_lost(project, ann, bob):
    make_open_wave(project, 3)
    mine = leasing.lease_batch(project, ann).assignments
    before = {a.pk: a.expires_at for a in Assignment.objects.filter(pk__in=[a.pk for a in mine])}
    Assignment.objects.filter(pk=mine[2].pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    body = renew(ann, [a.pk for a in mine], extend=False)
    assert body["renewed"] == 0
    assert [row["assignment"] for row in body["held"]] == [mine[0].pk, mine[1].pk]
    assert [row["assignment"] for row in body["lapsed"]] == [mine[2].pk]  # still free: kept on the page
    assert {a.pk: a.expires_at for a in Assignment.objects.filter(pk__in=[a.pk for a in mine[:2]])} == {
        pk: at for pk, at in before.items() if pk != mine[2].pk}

    leasing.lease_batch(project, bob)  # the sweep frees it and bob takes it
    body = renew(ann, [a.pk for a in mine], extend=False)
    assert [(row["assignment"], row["reason"]) for row in body["lost"]] == [(mine[2].pk, "taken")]


def test_renewals_stop_a_number_of_lease_periods_after_the_batchs_last_lease_or_answer(project, ann, settings):
    settings.LONGTAIL_LEASE_SECONDS = 60
    settings.LONGTAIL_LEASE_RENEWAL_PERIODS = 2
    make_open_wave(project, 3)
    mine = leasing.lease_batch(project, ann).assignments
    ids = [a.pk for a in mine]
    # Leased 150 s ago and renewed since, with nobody answering: the limit is 120 s after the lease.
    long_ago = timezone.now() - timedelta(seconds=150)
    Assignment.objects.filter(pk__in=ids).update(leased_at=long_ago, expires_at=timezone.now() + timedelta(seconds=20))
    held = list(Assignment.objects.filter(pk__in=ids).values_list("expires_at", flat=True))

    assert renewal.renew(project, ann).renewed == 0  # the plain API call is held to the same limit
    body = renew(ann, ids)
    assert body["renewed"] == 0 and [row["assignment"] for row in body["held"]] == ids  # still held until they run out
    assert list(Assignment.objects.filter(pk__in=ids).values_list("expires_at", flat=True)) == held

    lapse(mine[1:])
    body = renew(ann, ids)
    assert [(row["assignment"], row["reason"]) for row in body["lost"]] == [(ids[1], "idle"), (ids[2], "idle")]
    assert "without an answer" in body["lost"][0]["message"]

    submit(project, ann, ids[0])  # an answer in the batch: its other leases may be renewed again
    body = renew(ann, ids[1:])
    assert body["renewed"] == 2 and body["lost"] == []
    for a in Assignment.objects.filter(pk__in=ids[1:]):
        assert a.state == Assignment.LEASED and a.expires_at > timezone.now() + timedelta(seconds=50)


def test_someone_elses_assignment_is_reported_gone_and_bad_ids_are_refused_by_field(project, ann, bob):
    make_open_wave(project, 2)
    theirs = leasing.lease_batch(project, bob).assignments[0]
    body = renew(ann, [theirs.pk])
    assert body["lost"] == [{"assignment": theirs.pk, "item": None, "reason": "gone",
                             "message": body["lost"][0]["message"]}]
    theirs.refresh_from_db()
    assert theirs.annotator == bob and theirs.state == Assignment.LEASED
    for bad in (["x"], [0], [2**64], "12", [1] * 1001):
        response = api_as(ann).post("/api/projects/renewals/batches/renew/", {"assignments": bad}, format="json")
        assert response.status_code == 400 and "assignments" in response.json(), bad


def test_without_names_every_live_lease_is_extended_as_before(project, ann):
    make_open_wave(project, 2)
    leasing.lease_batch(project, ann)
    response = api_as(ann).post("/api/projects/renewals/batches/renew/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["renewed"] == 2 and len(response.json()["held"]) == 2 and response.json()["lost"] == []
