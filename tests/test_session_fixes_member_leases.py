"""Removing a member gives their unanswered leases back at once: the items are not blocked for
the others until the leases run out, progress stops counting them as leased, and nobody is told
they are leased by another annotator. The removed member's answers stay."""
import pytest

from labeling.annotations import leasing, waiting
from labeling.annotations.models import Annotation, Assignment
from labeling.annotations.selectors import wave_progress
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave


@pytest.fixture
def project(project_factory):
    p = project_factory("leave", labels=("billing", "login", "fraud"))
    p.batch_size = 3
    p.save()
    return p


def test_removed_member_leases_go_to_the_next_annotator_at_once(project, make_user):
    make_open_wave(project, 3)  # one batch: while ann holds it, nothing is left for anyone else
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    held = leasing.lease_batch(project, ann).assignments
    answered = answer(project, ann, held[0], project.labels.get(name="login")).annotation
    assert leasing.lease_batch(project, bob).assignments == []
    assert wave_progress(project)["leased"] == 2

    membership = Membership.objects.get(project=project, user=ann)
    removed = api_as(lead).delete(f"/api/projects/leave/members/{membership.pk}/")
    assert removed.status_code == 204, removed.content

    # The two unanswered leases are expired, their slots free; the answer stays as given.
    states = dict(Assignment.objects.filter(annotator=ann).values_list("pk", "state"))
    assert states == {held[0].pk: Assignment.DONE, held[1].pk: Assignment.EXPIRED, held[2].pk: Assignment.EXPIRED}
    assert Annotation.objects.filter(pk=answered.pk, undone=False).exists()
    assert wave_progress(project)["leased"] == 0
    assert leased_by_others(project, bob) == 0
    bobs = leasing.lease_batch(project, bob).assignments
    assert sorted(a.wave_item_id for a in bobs) == sorted([held[1].wave_item_id, held[2].wave_item_id])
    assert sorted(WaveItem.objects.values_list("slots_taken", "slots_done")) == [(1, 0), (1, 0), (1, 1)]


def test_removing_a_member_without_leases_touches_no_one_elses(project, make_user):
    make_open_wave(project, 6)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    bobs = leasing.lease_batch(project, bob).assignments
    membership = Membership.objects.get(project=project, user=ann)
    assert api_as(lead).delete(f"/api/projects/leave/members/{membership.pk}/").status_code == 204
    assert set(Assignment.objects.filter(annotator=bob).values_list("state", flat=True)) == {Assignment.LEASED}
    assert leasing.lease_batch(project, bob).resumed and wave_progress(project)["leased"] == len(bobs)


def leased_by_others(project, user) -> int:
    return waiting.why_waiting(project, user)["leased_by_others"]
