"""The loop's completion and the pages' progress count a pick's answers one way: an answer counts for
the pick that was its item's latest when it was given, from the wave's planning on. An answer the
item had before the wave picked it (wave 1's answer on an item a later wave picks again; an answer
stored before the planning) completes neither: the loop does not close the wave while its progress
shows a pick unanswered, and the budget still expects that pick's answer. Real answers through the
annotation service; the loop reacts through its answer_saved receiver."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations.models import Annotation
from labeling.projects.models import Membership
from labeling.waves import selectors
from labeling.waves.models import Wave, WaveItem
from labeling.waves.services import close_wave

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def lease(project, user, size=5):
    return {a.wave_item.item_id: a for a in leasing.lease_batch(project, user, size=size).assignments}


def loop_and_progress(wave) -> tuple[bool, dict]:
    """Both readings of the wave: (complete for the loop, progress). Both read one statement
    (waves.selectors._picks_sql), so their agreement only guards the two wrappers; what the tests
    hold the code to are the expected values they write out."""
    wave.refresh_from_db()
    complete, progress = selectors.wave_is_complete(wave), selectors.wave_progress(wave)
    assert complete == (progress["complete_items"] == progress["items"]), (complete, progress)
    return complete, progress


def test_an_item_answered_in_wave_1_and_picked_again_is_not_done_in_wave_2(project_factory, make_user):
    project = project_factory("repick", labels=("positive", "negative"))
    label = project.labels.first()
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave1, (again, _) = make_open_wave(project, 2, shuffle=False)
    answer(project, ann, lease(project, ann, 1)[again.pk], label)  # labeled in wave 1
    close_wave(wave1)
    # wave 2 picks the labeled item again (as a plan racing that answer can), beside a new item
    wave2, (fresh,) = make_open_wave(project, 1, number=2, shuffle=False)
    repick = WaveItem.objects.create(wave=wave2, item=again, strategy="random", overlap=1, batch_number=0,
                                     position=1)

    assert loop_and_progress(wave2) == (False, {"items": 2, "complete_items": 0, "answers_needed": 2,
                                                "answers_given": 0})
    assert not selectors.pick_is_complete(repick)
    assert selectors.labels_outstanding(project) == 2  # both picks' answers are still expected

    held = lease(project, ann)  # ann labeled the re-picked item in wave 1: she gets the new one only
    assert set(held) == {fresh.pk}
    answer(project, ann, held[fresh.pk], label)
    # the loop left wave 2 open: its progress shows the re-picked item unanswered
    assert loop_and_progress(wave2) == (False, {"items": 2, "complete_items": 1, "answers_needed": 2,
                                                "answers_given": 1})
    assert wave2.state == Wave.OPEN
    assert selectors.labels_outstanding(project) == 1

    answer(project, bob, lease(project, bob)[again.pk], label)
    complete, progress = loop_and_progress(wave2)
    assert complete and progress["complete_items"] == 2
    assert wave2.state == Wave.CLOSED  # the loop closed it once the last pick was answered in it
    api = APIClient()
    api.force_authenticate(lead)
    listed = {w["number"]: w for w in api.get("/api/projects/repick/waves/").json()["results"]}
    assert listed[2]["progress"] == {"total": 2, "done": 2, "share": 1.0}
    # wave 1 keeps its own answer only: bob's wave-2 answer is not counted there
    assert listed[1]["progress"] == {"total": 2, "done": 1, "share": 0.5}


def test_an_answer_stored_before_the_planning_does_not_complete_the_pick(project_factory, make_user):
    project = project_factory("before", labels=("positive", "negative"))
    label = project.labels.first()
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, (item,) = make_open_wave(project, 1, state=Wave.PLANNED)
    # a lead's label from the item page, committed just after the planner's snapshot but stored
    # with the time it was given, before the wave was planned
    given = Annotation.objects.create(project=project, item=item, annotator=lead, label=label,
                                      origin=Annotation.ANNOTATOR)
    Annotation.objects.filter(pk=given.pk).update(created_at=wave.created_at - timedelta(seconds=1))
    Wave.objects.filter(pk=wave.pk).update(state=Wave.OPEN)
    pick = WaveItem.objects.get(wave=wave)
    assert loop_and_progress(wave)[0] is False and not selectors.pick_is_complete(pick)
    answer(project, ann, lease(project, ann)[item.pk], label)
    assert loop_and_progress(wave)[0] is True and selectors.pick_is_complete(pick)
