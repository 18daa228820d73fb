"""A wave's progress counts each pick's own answers — those given through its assignments — not
answers its item got in a later wave; a lead's adjudication completes a pick (the lead's label
decides the item), but only the pick it belongs to, not an earlier, unanswered pick of an item
re-picked and adjudicated later. Read through GET /api/projects/<slug>/waves/ as leads see it."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.projects.models import Membership
from labeling.waves import selectors
from labeling.waves.models import Wave, WaveItem
from labeling.waves.services import close_wave

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def lease(project, user, size):
    return {a.wave_item.item_id: a for a in leasing.lease_batch(project, user, size=size).assignments}


def adjudicate(project, lead, item, label):
    task = ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LEAD_REQUEST)
    resolve_review(project, lead, task_id=task.pk, label_id=label.pk)


@pytest.fixture
def waves(project_factory, make_user):
    """Wave 1 (closed): a double pick answered once then adjudicated, an answered single pick, and
    two picks nobody answered in wave 1 that wave 2 re-picked — one answered there, one answered
    and adjudicated there. Wave 2 (open) also holds a pick nobody answered yet."""
    project = project_factory("progress", labels=("positive", "negative"))
    project.overlap = 2
    project.save()
    positive, negative = project.labels.order_by("name")[1], project.labels.order_by("name")[0]
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave1, (adjudicated, answered, later, later_adjudicated) = make_open_wave(project, 4, double={0}, shuffle=False)
    held = lease(project, ann, 2)
    answer(project, ann, held[adjudicated.pk], positive)
    answer(project, ann, held[answered.pk], negative)
    adjudicate(project, lead, adjudicated, negative)
    close_wave(wave1)
    wave2, (waiting,) = make_open_wave(project, 1, number=2, shuffle=False)
    for position, item in enumerate((later, later_adjudicated)):
        WaveItem.objects.create(wave=wave2, item=item, strategy="random", overlap=1, batch_number=0,
                                position=position)
    WaveItem.objects.filter(item=waiting).update(position=2)
    held = lease(project, bob, 2)
    answer(project, bob, held[later.pk], positive)
    answer(project, bob, held[later_adjudicated.pk], positive)
    adjudicate(project, lead, later_adjudicated, negative)
    return project, lead, Wave.objects.get(pk=wave1.pk), Wave.objects.get(pk=wave2.pk)


def test_a_closed_wave_counts_only_its_own_answers_and_its_own_adjudications(waves):
    project, lead, wave1, wave2 = waves
    api = APIClient()
    api.force_authenticate(lead)
    listed = {w["number"]: w for w in api.get("/api/projects/progress/waves/").json()["results"]}
    assert wave1.state == Wave.CLOSED and wave2.state == Wave.OPEN
    # wave 1: the adjudicated double pick and the answered pick; not the two answered in wave 2
    assert listed[1]["progress"] == {"total": 4, "done": 2, "share": 0.5}
    assert listed[2]["progress"] == {"total": 3, "done": 2, "share": pytest.approx(2 / 3)}
    # the adjudicated double pick counts both its answers as given (one answer + the lead's label)
    assert selectors.wave_progress(wave1) == {"items": 4, "complete_items": 2, "answers_needed": 5,
                                              "answers_given": 3}


def test_an_adjudication_completes_a_pick_that_lacks_answers(project_factory, make_user):
    project = project_factory("adjudged", labels=("positive", "negative"))
    project.overlap = 2
    project.save()
    label = project.labels.first()
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, (double, untouched) = make_open_wave(project, 2, double={0}, shuffle=False)
    held = lease(project, ann, 1)
    answer(project, ann, held[double.pk], label)
    assert selectors.wave_progress(wave)["complete_items"] == 0  # one of two answers
    adjudicate(project, lead, double, label)
    assert selectors.wave_progress(wave) == {"items": 2, "complete_items": 1, "answers_needed": 3,
                                             "answers_given": 2}
    adjudicate(project, lead, untouched, label)  # a lead's label on a pick nobody answered
    assert selectors.wave_progress(wave)["complete_items"] == 2


def test_progress_agrees_with_the_loops_completion_for_an_answer_outside_a_lease(project_factory, make_user):
    """An answer the item got during the wave without a lease of this pick (a lead's label from the
    item page) completes the pick for the loop (``wave_is_complete``), so the progress counts it
    too: a wave must not close while its progress shows a pick short."""
    project = project_factory("outside", labels=("positive", "negative"))
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, (item,) = make_open_wave(project, 1, shuffle=False)
    Annotation.objects.create(project=project, item=item, annotator=lead, label=project.labels.first(),
                              origin=Annotation.ANNOTATOR)
    assert selectors.wave_is_complete(wave)
    assert selectors.wave_progress(wave)["complete_items"] == 1
