"""Items a lead excludes while they wait in an unfinished wave: before, the exclusion only flipped
Item.excluded, so a wave planned before it (never opened) kept the items and annotators were leased
them once it opened, and the reply said nothing about it. Now an excluded item leaves planned and
open waves where nobody holds it; a pick an annotator holds keeps only their slot (no one else is
given the item) and the wave still completes; the reply says what happened in which wave."""
import uuid

import pytest

from labeling.annotations.models import Assignment
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from labeling.waves import selectors, services
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "excl37"
BULK = f"/api/projects/{SLUG}/items/bulk/"
BATCHES = f"/api/projects/{SLUG}/batches/"
ANSWERS = f"/api/projects/{SLUG}/annotations/"


@pytest.fixture
def setup(project_factory, make_user):
    project = project_factory(SLUG)
    project.batch_size = 20
    project.overlap = 2
    project.save()
    open_wave, _ = make_open_wave(project, 2, number=1)
    planned, items = make_open_wave(project, 6, number=2, state=Wave.PLANNED, double=(0,))
    lead = api_as(add_member(make_user, project, "lead37x", role=Membership.LEAD))
    annotators = [api_as(add_member(make_user, project, f"ann37x{i}")) for i in range(3)]
    for i, client in enumerate(annotators):
        client.username = f"ann37x{i}"
    return project, open_wave, planned, items, lead, annotators


def leased_items(client) -> list[int]:
    response = client.post(BATCHES, {}, format="json")
    assert response.status_code in (200, 201), response.content
    return [row["item"] for row in response.json()["items"]]


def answer_all(client, project):
    label = project.labels.first()
    for assignment in Assignment.objects.filter(annotator__username=client.username,
                                                state=Assignment.LEASED):
        response = client.post(ANSWERS, {"client_id": str(uuid.uuid4()), "assignment": assignment.pk,
                                         "label": label.pk}, format="json")
        assert response.status_code == 201, response.content


def test_excluded_after_plan_is_never_leased_and_the_wave_completes(setup):
    project, open_wave, planned, items, lead, annotators = setup
    excluded = [items[0].pk, items[3].pk]  # the double-labeled pick and a single one
    response = lead.post(BULK, {"action": "exclude", "items": excluded}, format="json")
    assert response.status_code == 200, response.content
    services.close_wave(open_wave)
    services.open_wave(planned)
    got = [item for client in annotators for item in leased_items(client)]
    assert got and not set(got) & set(excluded)

    assert "2 taken out of planned wave 2" in response.json()["message"]
    planned.refresh_from_db()
    assert planned.state == Wave.OPEN and planned.size == 4
    assert not WaveItem.objects.filter(wave=planned, item_id__in=excluded).exists()
    assert planned.report["excluded"][0]["removed"] == sorted(excluded)
    for client in annotators:
        answer_all(client, project)
    assert selectors.wave_progress(planned) == {"items": 4, "complete_items": 4, "answers_needed": 4,
                                                "answers_given": 4}
    assert selectors.wave_is_complete(planned)


def test_excluded_while_leased_in_the_open_wave(setup):
    project, open_wave, planned, items, lead, annotators = setup
    services.close_wave(open_wave)
    services.open_wave(planned)
    first = leased_items(annotators[0])  # every item, the double-labeled one's first slot too
    assert items[0].pk in first
    response = lead.post(BULK, {"action": "exclude", "items": [items[0].pk, items[1].pk]}, format="json")
    assert response.status_code == 200
    # nobody else is given the excluded item, though its second slot was free
    assert items[0].pk not in leased_items(annotators[1])
    message = response.json()["message"]
    assert "already answered or leased in open wave 2" in message and "1 taken out of open wave 2" not in message
    pick = WaveItem.objects.get(wave=planned, item=items[0])
    assert (pick.overlap, pick.slots_taken) == (1, 1)
    # the holder may still answer it; then the wave completes
    answer_all(annotators[0], project)
    assert selectors.wave_is_complete(planned)


def test_a_held_lease_that_runs_out_leaves_the_excluded_pick_complete(setup):
    project, open_wave, planned, items, lead, annotators = setup
    services.close_wave(open_wave)
    services.open_wave(planned)
    leased_items(annotators[0])
    lead.post(BULK, {"action": "exclude", "items": [items[2].pk]}, format="json")
    Assignment.objects.filter(wave_item__item=items[2]).update(expires_at="2000-01-01T00:00:00Z")
    later = leased_items(annotators[1])  # the lease sweeps the expired one
    assert items[2].pk not in later
    pick = WaveItem.objects.get(wave=planned, item=items[2])
    assert (pick.overlap, pick.slots_taken) == (0, 0)
    answer_all(annotators[0], project)
    answer_all(annotators[1], project)
    assert selectors.wave_is_complete(planned)


def test_excluding_the_last_unanswered_picks_closes_the_open_wave(setup, django_capture_on_commit_callbacks):
    """The wave's last unanswered picks excluded: the wave is complete, and the loop closes it and
    asks for its retrain at once (before, nothing closed it until some later answer)."""
    project, open_wave, planned, items, lead, annotators = setup
    services.close_wave(open_wave)
    services.open_wave(planned)
    leased = leased_items(annotators[0])
    label = project.labels.first()
    answered = []
    for assignment in Assignment.objects.filter(annotator__username="ann37x0", state=Assignment.LEASED):
        if assignment.wave_item.item_id in (items[1].pk, items[2].pk):
            continue  # these two stay unanswered; the rest gets its answers
        answered.append(assignment.wave_item.item_id)
        assert annotators[0].post(ANSWERS, {"client_id": str(uuid.uuid4()), "assignment": assignment.pk,
                                            "label": label.pk}, format="json").status_code == 201
    leased_items(annotators[1])  # the double-labeled pick's second slot
    answer_all(annotators[1], project)
    Assignment.objects.filter(wave_item__item_id__in=[items[1].pk, items[2].pk]).update(state=Assignment.EXPIRED)
    WaveItem.objects.filter(wave=planned, item_id__in=[items[1].pk, items[2].pk]).update(slots_taken=0)
    planned.refresh_from_db()
    assert planned.state == Wave.OPEN and set(leased) >= set(answered)

    with django_capture_on_commit_callbacks(execute=True):
        response = lead.post(BULK, {"action": "exclude", "items": [items[1].pk, items[2].pk]}, format="json")
    assert response.status_code == 200, response.content
    planned.refresh_from_db()
    assert planned.state == Wave.CLOSED
    assert TaskRun.objects.filter(project=project, kind="retrain", detail__reason="wave_complete").exists()
