"""A lead's review decision (one by one, or a bulk relabel) releases the annotators' unanswered
leases on that item in closed waves: the annotator's later answer on it is refused (409, reason
decided, with a message saying why) and stores nothing, so it counts neither in their totals nor
in the budget; the slot goes back. Before, such a lease stayed live until it ran out and the
answer was stored while the lead's label stood. In an open wave the item's slots are the wave's
plan, and its leases are left as they are."""
import uuid

import pytest

from labeling.annotations import leasing, renewal
from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "decided37"


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory(SLUG, labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    _, items = make_open_wave(project, 2, shuffle=False)
    ann = add_member(make_user, project, "ann37d")
    lead = add_member(make_user, project, "lead37d", role=Membership.LEAD)
    held = {a.wave_item.item_id: a for a in leasing.lease_batch(project, ann).assignments}
    task = ReviewTask.objects.create(project=project, item=items[0], reason=ReviewTask.LEAD_REQUEST, detail={})
    return project, ann, lead, held, items, task


def answer(project, ann, assignment):
    return api_as(ann).post(f"/api/projects/{SLUG}/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": assignment.pk,
        "label": project.labels.get(name="login").pk}, format="json")


def decide_one(project, lead, task):
    r = api_as(lead).post(f"/api/projects/{SLUG}/review/",
                          {"task": task.pk, "label": project.labels.get(name="billing").pk}, format="json")
    assert r.status_code == 200, r.content


def decide_bulk(project, lead, task):
    r = api_as(lead).post(f"/api/projects/{SLUG}/review/bulk/", {
        "action": "relabel", "tasks": [task.pk], "label": project.labels.get(name="billing").pk}, format="json")
    assert r.status_code == 200 and r.json()["done"] == [task.pk], r.content


@pytest.mark.parametrize("decide", [decide_one, decide_bulk])
def test_a_decision_releases_the_lease_from_a_closed_wave_and_the_answer_is_refused(setup, decide):
    project, ann, lead, held, items, task = setup
    Wave.objects.filter(project=project).update(state=Wave.CLOSED)
    lease = held[items[0].pk]
    decide(project, lead, task)

    lease.refresh_from_db()
    assert lease.state == Assignment.EXPIRED
    assert WaveItem.objects.get(pk=lease.wave_item_id).slots_taken == 0
    # The page's renewal drops the item with the answer path's reason.
    renewed = renewal.renew(project, ann, assignment_ids=[lease.pk], extend=True)
    assert [(lost.assignment, lost.reason) for lost in renewed.lost] == [(lease.pk, "decided")]

    refused = answer(project, ann, lease)
    assert refused.status_code == 409, refused.content
    assert refused.json()["field"] == "assignment"
    assert refused.json()["detail"] == (
        f"A lead decided the label of item {items[0].pk} in review after wave 1 closed, so your lease on it was "
        "released; your answer was not stored.")
    assert not Annotation.objects.filter(annotator=ann).exists()
    assert list(Annotation.objects.filter(item=items[0]).values_list("origin", flat=True)) == [
        Annotation.ADJUDICATION]
    assert WaveItem.objects.get(pk=lease.wave_item_id).slots_taken == 0

    # The other item of the batch was not decided: its lease stays and its answer is stored.
    other = held[items[1].pk]
    other.refresh_from_db()
    assert other.state == Assignment.LEASED
    assert answer(project, ann, other).status_code == 201


def test_in_an_open_wave_the_lease_goes_back_too(setup):
    """A decided pick asks nobody for more, whatever its wave's state: its lease is released and a
    late answer refused as decided (an answer stored after the decision changed nothing)."""
    project, ann, lead, held, items, task = setup
    decide_one(project, lead, task)
    lease = held[items[0].pk]
    lease.refresh_from_db()
    assert lease.state == Assignment.EXPIRED
    reply = answer(project, ann, lease)
    assert reply.status_code == 409 and "decided" in reply.content.decode()


def test_an_answer_stored_before_the_decision_stands(setup):
    project, ann, lead, held, items, task = setup
    Wave.objects.filter(project=project).update(state=Wave.CLOSED)
    assert answer(project, ann, held[items[0].pk]).status_code == 201
    decide_one(project, lead, task)
    assert Assignment.objects.get(pk=held[items[0].pk].pk).state == Assignment.DONE
    assert WaveItem.objects.get(item=items[0]).slots_taken == 1
