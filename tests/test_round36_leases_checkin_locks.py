"""A check-in (a renewal that extends nothing: the page of an annotator who is away sends one every
third of a lease period) says how each lapsed lease stands without taking a row lock: it answers
while another transaction holds the wave items' and the project's rows, with the same statuses
(lapsed; lost as taken, answered, wave_closed) as before."""
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from labeling.annotations import leasing, services
from labeling.annotations.models import Assignment
from labeling.projects.models import Label, Project
from labeling.waves.models import Wave, WaveItem

from .db_threads import in_thread
from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db(transaction=True)


def lapse(*assignments):
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        expires_at=timezone.now() - timedelta(seconds=1))


def test_a_check_in_over_lapsed_leases_takes_no_row_lock_and_reports_as_before(
        postgres_only, project_factory, make_user):
    project = project_factory("checkin-locks")
    project.batch_size = 4
    project.save()
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    make_open_wave(project, 3, number=1)
    later, _ = make_open_wave(project, 1, number=2)
    mine = leasing.lease_batch(project, ann).assignments
    assert [a.wave_item.wave.number for a in mine] == [1, 1, 1, 2]
    free, answered, taken, closed = mine

    label = Label.objects.get(project=project, name="billing")
    services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=answered.pk, label_id=label.pk)
    lapse(taken)
    assert [a.wave_item_id for a in leasing.lease_batch(project, bob, size=1).assignments] == [taken.wave_item_id]
    lapse(free, closed)
    Wave.objects.filter(pk=later.pk).update(state=Wave.CLOSED)
    newer = Wave.objects.create(project=project, number=3, state=Wave.PLANNED, size=1)
    WaveItem.objects.create(wave=newer, item_id=closed.wave_item.item_id, strategy="random")

    holding, release = threading.Event(), threading.Event()

    def hold_rows():
        # What an answer, a lease's sweep or the planner holds while it works on these rows.
        with transaction.atomic():
            list(WaveItem.objects.select_for_update(nowait=True).filter(assignments__in=mine).values_list("pk"))
            list(Project.objects.select_for_update(nowait=True).filter(pk=project.pk).values_list("pk"))
            holding.set()
            release.wait(30)

    def check_in():
        response = api_as(ann).post("/api/projects/checkin-locks/batches/renew/",
                                    {"assignments": [a.pk for a in mine], "extend": False}, format="json")
        return response.status_code, response.json()

    holder, held = in_thread(hold_rows)
    try:
        assert holding.wait(10), held
        checker, checked = in_thread(check_in)
        checker.join(timeout=10)
        answered_while_locked = not checker.is_alive()
    finally:
        release.set()
        holder.join(timeout=15)
    checker.join(timeout=15)

    assert "error" not in held and "error" not in checked, (held, checked)
    assert answered_while_locked, "the check-in waited for row locks another transaction held"
    status, body = checked["result"]
    assert status == 200 and body["renewed"] == 0 and body["held"] == []
    assert [row["assignment"] for row in body["lapsed"]] == [free.pk]
    assert [(row["assignment"], row["reason"]) for row in body["lost"]] == [
        (answered.pk, "answered"), (taken.pk, "taken"), (closed.pk, "wave_closed")]
    # Nothing was written: the lapsed lease is still past its time, its slot as it was.
    free.refresh_from_db()
    assert free.state == Assignment.LEASED and free.expires_at < timezone.now()
