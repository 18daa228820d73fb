"""A change or clear posted again with the same client_id (its first reply was lost) is answered as
the first one was: the page counts a clear of an open wave's item by ``reopened`` and says where a
closed wave's item went by ``still_labeled``, so a retry must carry what the first reply carried,
only ``created`` tells them apart."""
import uuid

import pytest

from labeling.annotations.models import Assignment
from labeling.waves.models import Wave
from labeling.waves.services import close_wave

from .test_annotation_helpers import add_member, api_as, make_open_wave
from .test_history_fixes_changes import give as give_in
from .test_history_fixes_changes import labels
from .test_history_fixes_changes import lease as lease_in

pytestmark = pytest.mark.django_db
SLUG = "replay"


@pytest.fixture
def project(project_factory):
    p = project_factory(SLUG, labels=("billing", "login", "spam"))
    p.batch_size = 4
    p.overlap = 2
    p.save()
    return p


def lease(client) -> dict[int, int]:
    return lease_in(client, SLUG)


def give(client, assignment, label) -> int:
    return give_in(client, assignment, label, SLUG)


def post_twice(client, body) -> tuple[dict, dict]:
    """The same change sent twice, as the page's outbox retries it: (first reply, retry's reply)."""
    url = f"/api/projects/{SLUG}/annotations/change/"
    first = client.post(url, body, format="json")
    assert first.status_code == 201, first.content
    again = client.post(url, body, format="json")
    assert again.status_code == 200, again.content
    return first.json(), again.json()


def test_a_retried_clear_in_an_open_wave_says_reopened_as_the_first_reply(project, make_user):
    _, items = make_open_wave(project, 3, batch_size=4)  # one left unanswered: the wave stays open
    ann = api_as(add_member(make_user, project, "ann"))
    lab = labels(project)
    held = lease(ann)
    first_answer = give(ann, held[items[0].pk], lab["billing"])
    give(ann, held[items[1].pk], lab["login"])

    body = {"client_id": str(uuid.uuid4()), "supersedes": first_answer, "clear": True}
    first, again = post_twice(ann, body)
    assert (first["created"], first["reopened"], first["still_labeled"]) == (True, True, False)
    assert (again["created"], again["reopened"], again["still_labeled"]) == (False, True, False)
    assert again["annotation"] is None and again["replaced"]["id"] == first_answer
    # Stored once: the item waits for ann again, leased, not counted twice.
    assert Assignment.objects.get(pk=held[items[0].pk]).state == Assignment.LEASED


def test_a_retried_clear_in_a_closed_wave_says_what_the_first_reply_said(project, make_user):
    wave, items = make_open_wave(project, 2, batch_size=4, double={0})
    ann, bob = api_as(add_member(make_user, project, "ann")), api_as(add_member(make_user, project, "bob"))
    lab = labels(project)
    held = lease(ann)
    shared = give(ann, held[items[0].pk], lab["billing"])
    alone = give(ann, held[items[1].pk], lab["spam"])
    give(bob, lease(bob)[items[0].pk], lab["billing"])
    close_wave(Wave.objects.get(pk=wave.pk))

    first, again = post_twice(ann, {"client_id": str(uuid.uuid4()), "supersedes": shared, "clear": True})
    assert (first["reopened"], first["still_labeled"]) == (False, True)
    assert (again["created"], again["reopened"], again["still_labeled"]) == (False, False, True)
    first, again = post_twice(ann, {"client_id": str(uuid.uuid4()), "supersedes": alone, "clear": True})
    assert (first["reopened"], first["still_labeled"]) == (False, False)
    assert (again["created"], again["reopened"], again["still_labeled"]) == (False, False, False)


def test_a_retried_change_carries_the_same_answer(project, make_user):
    _, items = make_open_wave(project, 3, batch_size=4)
    ann = api_as(add_member(make_user, project, "ann"))
    lab = labels(project)
    old = give(ann, lease(ann)[items[0].pk], lab["billing"])
    first, again = post_twice(ann, {"client_id": str(uuid.uuid4()), "supersedes": old, "label": lab["spam"].pk})
    assert again["created"] is False
    assert again["annotation"]["id"] == first["annotation"]["id"] and again["replaced"]["id"] == old
    assert (again["reopened"], again["still_labeled"]) == (False, False)
