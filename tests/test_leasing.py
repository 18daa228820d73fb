"""Leasing: order, overlap, expiry, exactly-once answers, no lost labels."""
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from labeling.annotations import leasing, renewal, services
from labeling.annotations.models import Annotation, Assignment
from labeling.annotations.signals import answer_saved
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer, item_ids, make_open_wave  # noqa: F401


@pytest.fixture
def project(project_factory):
    p = project_factory("leasing")
    p.batch_size = 4
    p.save()
    return p


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


@pytest.fixture
def bob(make_user, project):
    return add_member(make_user, project, "bob")


def test_lease_follows_batch_number_and_position_order(project, ann, bob):
    _, items = make_open_wave(project, 10)
    first = leasing.lease_batch(project, ann)
    second = leasing.lease_batch(project, bob)
    assert item_ids(first) == [i.pk for i in items[0:4]]
    assert item_ids(second) == [i.pk for i in items[4:8]]
    assert [a.position for a in first.assignments] == [0, 1, 2, 3]
    assert len({a.batch_key for a in first.assignments}) == 1
    expires = first.assignments[0].expires_at - timezone.now()
    assert timedelta(seconds=0) < expires <= timedelta(seconds=1800)


def test_held_batch_is_handed_back_not_a_new_one(project, ann):
    _, items = make_open_wave(project, 10)
    first = leasing.lease_batch(project, ann)
    again = leasing.lease_batch(project, ann)
    assert again.resumed and not first.resumed
    assert [a.pk for a in again.assignments] == [a.pk for a in first.assignments]
    assert Assignment.objects.count() == 4


def test_earlier_wave_first_and_closed_waves_never(project, ann):
    _, closed_items = make_open_wave(project, 3, number=1, state=Wave.CLOSED)
    _, later = make_open_wave(project, 3, number=3)
    _, earlier = make_open_wave(project, 3, number=2)
    leased = leasing.lease_batch(project, ann)
    assert item_ids(leased) == [earlier[0].pk, earlier[1].pk, earlier[2].pk, later[0].pk]
    assert not set(item_ids(leased)) & {i.pk for i in closed_items}


def test_overlap_two_goes_to_exactly_two_annotators(project, make_user, ann, bob):
    label = project.labels.first()
    _, items = make_open_wave(project, 4, double={0})
    carl = add_member(make_user, project, "carl")
    a = leasing.lease_batch(project, ann, size=1)
    b = leasing.lease_batch(project, bob, size=1)
    c = leasing.lease_batch(project, carl, size=1)
    assert item_ids(a) == item_ids(b) == [items[0].pk]
    assert item_ids(c) == [items[1].pk]
    # ann answers and leases again: she never gets item 0 a second time
    answer(project, ann, a.assignments[0], label)
    assert items[0].pk not in item_ids(leasing.lease_batch(project, ann))


def test_annotator_never_gets_the_same_item_twice_even_in_another_wave(project, ann):
    label = project.labels.first()
    _, items = make_open_wave(project, 2, number=1)
    wave2 = Wave.objects.create(project=project, number=2, state=Wave.OPEN)
    WaveItem.objects.create(wave=wave2, item=items[0], strategy="rare", inclusion_prob=1.0)
    first = leasing.lease_batch(project, ann)
    assert item_ids(first) == [items[0].pk, items[1].pk]  # item 0 once, though picked in two waves
    for a in first.assignments:
        answer(project, ann, a, label)
    assert item_ids(leasing.lease_batch(project, ann)) == []


def test_expired_leases_return_to_the_pool(project, ann, bob):
    _, items = make_open_wave(project, 4)
    leased = leasing.lease_batch(project, ann)
    Assignment.objects.filter(pk__in=[a.pk for a in leased.assignments]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    taken = leasing.lease_batch(project, bob)
    assert item_ids(taken) == [i.pk for i in items]
    assert Assignment.objects.filter(annotator=ann, state=Assignment.EXPIRED).count() == 4


def test_answer_on_expired_lease_is_kept_while_a_slot_is_free(project, ann):
    label = project.labels.first()
    make_open_wave(project, 2)
    leased = leasing.lease_batch(project, ann)
    first = leased.assignments[0]
    Assignment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with transaction.atomic():  # the sweep each lease runs first: its slot back in the pool
        leasing.expire_stale(timezone.now())
    result = answer(project, ann, first, label)
    assert result.created and result.annotation.label == label
    first.refresh_from_db()
    assert first.state == Assignment.DONE


def test_answer_on_expired_lease_is_rejected_when_another_took_the_slot(project, ann, bob):
    label = project.labels.first()
    _, items = make_open_wave(project, 1)
    mine = leasing.lease_batch(project, ann).assignments[0]
    Assignment.objects.filter(pk=mine.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    theirs = leasing.lease_batch(project, bob).assignments[0]
    assert theirs.wave_item_id == mine.wave_item_id
    with pytest.raises(services.AnswerRejected, match=r"expired and other annotators took its slot"):
        answer(project, ann, mine, label)
    assert not Annotation.objects.exists()
    answer(project, bob, theirs, label)  # the slot's holder still answers fine
    assert Annotation.objects.get().annotator == bob


def test_retried_submit_is_stored_once_and_signalled_once(project, ann):
    label = project.labels.first()
    make_open_wave(project, 2)
    assignment = leasing.lease_batch(project, ann).assignments[0]
    sent = []

    def listener(sender, project, item, **kw):
        sent.append(item.pk)

    answer_saved.connect(listener)
    try:
        client_id = uuid.uuid4()
        r1 = services.submit_answer(project, ann, client_id=client_id, assignment_id=assignment.pk, label_id=label.pk)
        r2 = services.submit_answer(project, ann, client_id=str(client_id), assignment_id=assignment.pk,
                                    label_id=label.pk)
    finally:
        answer_saved.disconnect(listener)
    assert r1.created and not r2.created
    assert r1.annotation.pk == r2.annotation.pk
    assert Annotation.objects.count() == 1
    assert sent == [assignment.wave_item.item_id]


def test_client_id_of_someone_else_is_refused(project, ann, bob):
    label = project.labels.first()
    make_open_wave(project, 8)
    a = leasing.lease_batch(project, ann).assignments[0]
    b = leasing.lease_batch(project, bob).assignments[0]
    client_id = uuid.uuid4()
    services.submit_answer(project, ann, client_id=client_id, assignment_id=a.pk, label_id=label.pk)
    with pytest.raises(services.AnswerRejected, match="another answer"):
        services.submit_answer(project, bob, client_id=client_id, assignment_id=b.pk, label_id=label.pk)


def test_second_answer_on_the_same_assignment_needs_undo_first(project, ann):
    labels = list(project.labels.all())
    make_open_wave(project, 1)
    assignment = leasing.lease_batch(project, ann).assignments[0]
    answer(project, ann, assignment, labels[0])
    with pytest.raises(services.AnswerRejected, match="undo that answer first"):
        answer(project, ann, assignment, labels[1])
    services.undo_last_answer(project, ann)
    answer(project, ann, assignment, labels[1])
    assert [a.label_id for a in Annotation.objects.filter(undone=False)] == [labels[1].pk]


def test_skip_is_the_items_answer_for_the_wave_and_never_comes_back(project, ann, bob):
    _, items = make_open_wave(project, 3, double={0})
    mine = leasing.lease_batch(project, ann, size=1).assignments[0]
    services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=mine.pk, skipped=True,
                           skip_reason="not English")
    skip = Annotation.objects.get(annotator=ann)
    assert skip.skipped and skip.skip_reason == "not English" and skip.label is None
    # The skipper never gets it again; a double-labeled item still has its second slot for bob.
    assert items[0].pk not in item_ids(leasing.lease_batch(project, ann))
    assert item_ids(leasing.lease_batch(project, bob))[0] == items[0].pk


def test_skip_fills_a_single_slot(project, ann, bob):
    _, items = make_open_wave(project, 2)
    mine = leasing.lease_batch(project, ann, size=1).assignments[0]
    services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=mine.pk, skipped=True,
                           skip_reason="unclear")
    assert item_ids(leasing.lease_batch(project, bob)) == [items[1].pk]


def test_skip_needs_a_reason(project, ann):
    make_open_wave(project, 1)
    mine = leasing.lease_batch(project, ann).assignments[0]
    with pytest.raises(services.InvalidAnswer, match="Say why you skip"):
        services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=mine.pk, skipped=True)
    assert not Annotation.objects.exists()


def test_answer_by_item_without_a_lease(project, ann, bob):
    label = project.labels.first()
    _, items = make_open_wave(project, 2)
    result = services.submit_answer(project, ann, client_id=uuid.uuid4(), item_id=items[1].pk, label_id=label.pk)
    assert result.created and result.annotation.assignment.annotator == ann
    # item 1 is now taken (overlap 1): bob gets only item 0
    assert item_ids(leasing.lease_batch(project, bob)) == [items[0].pk]
    with pytest.raises(services.AnswerRejected, match="not waiting for your answer"):
        services.submit_answer(project, bob, client_id=uuid.uuid4(), item_id=items[1].pk, label_id=label.pk)


def test_undo_reopens_the_assignment_and_signals(project, ann):
    label = project.labels.first()
    make_open_wave(project, 3)
    batch = leasing.lease_batch(project, ann).assignments
    answer(project, ann, batch[0], label)
    answer(project, ann, batch[1], label)
    sent = []
    answer_saved.connect(lambda sender, project, item, **kw: sent.append(item.pk), weak=False,
                         dispatch_uid="undo-test")
    try:
        undone = services.undo_last_answer(project, ann)
    finally:
        answer_saved.disconnect(dispatch_uid="undo-test")
    assert undone.assignment_id == batch[1].pk and undone.undone
    batch[1].refresh_from_db()
    assert batch[1].state == Assignment.LEASED and batch[1].expires_at > timezone.now()
    assert sent == [batch[1].wave_item.item_id]
    services.undo_last_answer(project, ann)
    with pytest.raises(services.NotFound, match="no answer to undo"):
        services.undo_last_answer(project, ann)


def test_an_item_whose_lease_expired_unanswered_can_come_back_to_the_same_annotator(project, ann):
    _, items = make_open_wave(project, 2)
    first = leasing.lease_batch(project, ann)
    Assignment.objects.filter(annotator=ann).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = leasing.lease_batch(project, ann)
    assert not again.resumed and item_ids(again) == [i.pk for i in items]
    assert {a.pk for a in again.assignments}.isdisjoint(a.pk for a in first.assignments)
    assert Assignment.objects.filter(annotator=ann, state=Assignment.EXPIRED).count() == 2


def test_renewing_extends_only_unexpired_leases(project, ann, settings):
    make_open_wave(project, 3)
    batch = leasing.lease_batch(project, ann, size=2).assignments
    soon = timezone.now() + timedelta(seconds=5)
    Assignment.objects.filter(pk=batch[0].pk).update(expires_at=soon)
    Assignment.objects.filter(pk=batch[1].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert renewal.renew(project, ann).renewed == 1
    batch[0].refresh_from_db()
    batch[1].refresh_from_db()
    assert batch[0].expires_at > soon + timedelta(seconds=settings.LONGTAIL_LEASE_SECONDS - 60)
    assert batch[1].expires_at < timezone.now()
