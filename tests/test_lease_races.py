"""Races between answers, retries and lease expiry, on real PostgreSQL connections (one per
thread). Each race is made deterministic: a submit is held inside its transaction (a statement
hook on its own connection, or a row lock the test holds) while the other side runs."""
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations import leasing, services
from labeling.annotations.models import Annotation, Assignment
from labeling.waves.models import WaveItem

from .db_threads import backends_waiting_on_locks, in_thread, wait_until
from .test_annotation_helpers import add_member, item_ids, make_open_wave

pytestmark = pytest.mark.django_db(transaction=True)


def test_expiry_never_flips_an_answer_committing_meanwhile(postgres_only, project_factory, make_user):
    project = project_factory("race-expiry")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    label = project.labels.first()
    make_open_wave(project, 1)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    # Past its time but not yet marked expired: the answer is still accepted (a free slot).
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    paused, go = threading.Event(), threading.Event()

    def hold_after_state_update(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('UPDATE "annotations_assignment" SET "state"'):
            paused.set()
            go.wait(15)
        return result

    def submit():
        with connection.execute_wrapper(hold_after_state_update):
            return services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=lease.pk,
                                          label_id=label.pk)

    def expire_then_lease():  # a lease sweeps the stale leases first, then picks
        return item_ids(leasing.lease_batch(project, bob))

    submitter, submitted = in_thread(submit)
    assert paused.wait(10), "the submit never reached its state update"
    expirer, expiry = in_thread(expire_then_lease)
    expirer.join(timeout=5)
    ran_while_answer_pending = not expirer.is_alive()
    go.set()
    submitter.join(timeout=15)
    expirer.join(timeout=15)

    assert "error" not in submitted and "error" not in expiry, (submitted, expiry)
    assert submitted["result"].created
    assert ran_while_answer_pending  # expiry and leasing skip the item being answered, never wait on it
    assert expiry["result"] == []  # nothing handed to bob
    lease.refresh_from_db()
    assert lease.state == Assignment.DONE  # nothing expired
    assert Annotation.objects.filter(item=lease.wave_item.item, undone=False).count() == 1
    # After the commit too, the slot is not leased again.
    assert item_ids(leasing.lease_batch(project, bob)) == []
    lease.refresh_from_db()
    assert lease.state == Assignment.DONE
    pick = WaveItem.objects.get(pk=lease.wave_item_id)
    assert (pick.slots_taken, pick.slots_done) == (1, 1)


def test_expiry_waiting_on_a_lease_row_rechecks_its_state(postgres_only, project_factory, make_user):
    """The expiry UPDATE itself re-checks state and answer: a row answered while the UPDATE waited
    for its lock is left alone (the old UPDATE through a subquery flipped it back)."""
    project = project_factory("race-expiry-update")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    label = project.labels.first()
    make_open_wave(project, 1)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    locked, go = threading.Event(), threading.Event()

    def answer_by_hand():
        # Hold the lease row (not the wave item) in an open transaction that answers it (by hand:
        # the service would lock the wave item first, and expiry would skip it).
        with transaction.atomic():
            Assignment.objects.select_for_update().get(pk=lease.pk)
            Annotation.objects.create(project=project, item=lease.wave_item.item, annotator=ann, assignment_id=lease.pk,
                                      label=label)
            Assignment.objects.filter(pk=lease.pk).update(state=Assignment.DONE)
            locked.set()
            go.wait(15)

    answerer, _ = in_thread(answer_by_hand)
    assert locked.wait(10)
    expirer, expiry = in_thread(leasing.lease_batch, project, bob)  # its sweep, before it picks
    assert wait_until(lambda: backends_waiting_on_locks() >= 1), "the expiry never waited for the row"
    go.set()
    answerer.join(timeout=15)
    expirer.join(timeout=15)
    assert "error" not in expiry, expiry
    assert expiry["result"].assignments == []  # nothing expired: the item's one slot is still ann's answer
    lease.refresh_from_db()
    assert lease.state == Assignment.DONE
    assert WaveItem.objects.get(pk=lease.wave_item_id).slots_taken == 1


def test_same_answer_sent_twice_at_once_gets_201_and_200(postgres_only, project_factory, make_user):
    project = project_factory("race-retry")
    ann = add_member(make_user, project, "ann")
    label = project.labels.first()
    make_open_wave(project, 3)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    client_id = str(uuid.uuid4())
    held, release = threading.Event(), threading.Event()

    def hold_wave_item():
        with transaction.atomic():
            WaveItem.objects.select_for_update().get(pk=lease.wave_item_id)
            held.set()
            release.wait(15)

    def post():
        api = APIClient()
        api.force_authenticate(ann)
        response = api.post(f"/api/projects/{project.slug}/annotations/",
                            {"client_id": client_id, "assignment": lease.pk, "label": label.pk}, format="json")
        return response.status_code, response.json()

    holder, _ = in_thread(hold_wave_item)
    assert held.wait(10)
    first, first_out = in_thread(post)
    second, second_out = in_thread(post)
    # Both sends passed the "already stored?" check and wait for the item: the race of a retry.
    assert wait_until(lambda: backends_waiting_on_locks() >= 2), "the two sends never waited together"
    release.set()
    for thread in (holder, first, second):
        thread.join(timeout=15)
    statuses = sorted(out["result"][0] for out in (first_out, second_out))
    assert statuses == [200, 201], (first_out, second_out)
    bodies = [out["result"][1] for out in (first_out, second_out)]
    assert bodies[0]["annotation"]["id"] == bodies[1]["annotation"]["id"]
    assert Annotation.objects.filter(client_id=client_id).count() == 1
    assert WaveItem.objects.get(pk=lease.wave_item_id).slots_done == 1
