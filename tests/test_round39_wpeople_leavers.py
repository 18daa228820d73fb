"""People who leave, the paths the reader tests leave out: deactivation in the admin's user form,
two deleted annotators' answered slots of one pick, a deleted and a present annotator's dispute,
the throughput table beside a deleted annotator's pairs, and the come-back time on a full minute."""
import uuid
from datetime import UTC, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.annotations import history, leasing
from labeling.annotations.disagreement import disputed_items
from labeling.annotations.models import Assignment, ReviewTask
from labeling.annotations.waiting import why_waiting
from labeling.export.services import iter_rows
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def _admin_form(user, **changes) -> dict:
    """The admin's user change form as the browser posts it (an unticked box is not sent)."""
    form = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "date_joined_0": f"{user.date_joined:%Y-%m-%d}",
            "date_joined_1": f"{user.date_joined:%H:%M:%S}", "last_login_0": "", "last_login_1": "",
            "is_active": "on", "_save": "Save"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_unticking_active_in_the_admin_gives_the_leases_back_and_other_edits_do_not(
        project_factory, make_user, admin_client):
    project = project_factory("unticked", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    make_open_wave(project, 4)
    bob, cat = add_member(make_user, project, "bob"), add_member(make_user, project, "cat")
    held = leasing.lease_batch(project, bob).assignments
    answer(project, bob, held[0], project.labels.get(name="billing"))

    # An edit that leaves him active takes nothing from him.
    response = admin_client.post(f"/admin/auth/user/{bob.pk}/change/", _admin_form(bob, first_name="Bob"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Assignment.objects.filter(annotator=bob, state=Assignment.LEASED).count() == 2

    response = admin_client.post(f"/admin/auth/user/{bob.pk}/change/", _admin_form(bob, is_active=None))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not get_user_model().objects.get(pk=bob.pk).is_active
    # His two unanswered leases end; his answer stays his, with its slot.
    assert sorted(Assignment.objects.filter(annotator=bob).values_list("state", flat=True)) == [
        Assignment.DONE, Assignment.EXPIRED, Assignment.EXPIRED]
    assert sorted(WaveItem.objects.values_list("slots_taken", "slots_done")) == [(0, 0), (0, 0), (0, 0), (1, 1)]
    assert len(leasing.lease_batch(project, cat).assignments) == 3


def test_two_deleted_annotators_of_one_pick_keep_their_answered_slots(project_factory, make_user):
    project = project_factory("both-gone", labels=("billing", "login"))
    project.batch_size, project.overlap = 2, 2
    project.save()
    _, items = make_open_wave(project, 2, double=(0,), shuffle=False)
    add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob, dan = (add_member(make_user, project, name) for name in ("ann", "bob", "dan"))
    billing = project.labels.get(name="billing")
    for user in (ann, bob):
        for assignment in leasing.lease_batch(project, user).assignments:
            if assignment.wave_item.item_id == items[0].pk:
                answer(project, user, assignment, billing)
    # bob still leases items[1] unanswered; both accounts go at once (two NULL annotators on one pick).
    get_user_model().objects.filter(pk__in=[ann.pk, bob.pk]).delete()

    kept = Assignment.objects.filter(wave_item__item=items[0])
    assert sorted(kept.values_list("annotator", "state")) == [(None, Assignment.DONE), (None, Assignment.DONE)]
    assert not Assignment.objects.filter(wave_item__item=items[1]).exists()
    # The answered pick is not handed out again; the one bob only held is.
    assert [a.wave_item.item_id for a in leasing.lease_batch(project, dan).assignments] == [items[1].pk]
    row = {r["item_id"]: r for r in iter_rows(project)}[items[0].pk]
    assert len(row["votes"]) == 2


def test_a_present_annotator_who_comes_round_ends_the_dispute_with_a_deleted_one(project_factory, make_user):
    project = project_factory("one-gone", labels=("billing", "fraud"))
    project.batch_size, project.overlap = 1, 2
    project.save()
    _, items = make_open_wave(project, 1, double=(0,), shuffle=False)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    billing, fraud = project.labels.get(name="billing"), project.labels.get(name="fraud")
    answer(project, ann, leasing.lease_batch(project, ann).assignments[0], billing)
    bobs = answer(project, bob, leasing.lease_batch(project, bob).assignments[0], fraud).annotation
    get_user_model().objects.get(pk=ann.pk).delete()
    assert disputed_items(project, [items[0].pk]) == {items[0].pk}

    # bob changes his answer: now both say billing
    history.change_answer(project, bob, client_id=uuid.uuid4(), supersedes=bobs.pk, label_id=billing.pk)
    assert disputed_items(project, [items[0].pk]) == set()
    assert not ReviewTask.objects.filter(item=items[0], reason=ReviewTask.DISAGREEMENT,
                                         resolved_at__isnull=True).exists()


def test_the_throughput_table_keeps_the_pairs_with_a_deleted_annotator(project_factory, make_user):
    project = project_factory("pairs-gone", labels=("billing", "fraud"))
    project.batch_size, project.overlap = 5, 2
    project.save()
    make_open_wave(project, 5, double=range(5), shuffle=False)
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    billing = project.labels.get(name="billing")
    for user in (ann, bob):
        for assignment in leasing.lease_batch(project, user).assignments:
            answer(project, user, assignment, billing)
    get_user_model().objects.get(pk=bob.pk).delete()

    response = api_as(lena).get("/api/projects/pairs-gone/dashboard/")
    assert response.status_code == 200
    rows = {row["username"]: row for row in response.json()["throughput"]}
    assert rows["ann"]["double_labeled"] == 5 and rows["ann"]["agreement_with_others"] == 1.0


def test_leases_that_end_on_the_minute_come_back_at_that_minute(project_factory, make_user):
    project = project_factory("on-minute", labels=("billing", "login"))
    make_open_wave(project, 1)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    held = leasing.lease_batch(project, bob).assignments
    now = timezone.now()
    ends = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    Assignment.objects.filter(pk=held[0].pk).update(expires_at=ends)
    message = why_waiting(project, ann, now)["message"]
    assert f"come back at {ends.astimezone(UTC):%H:%M} UTC" in message, message
