"""Closing a wave with live leases, undo by client id, undoing the answer that closed a wave, and
the number of queries the two hot paths (lease a batch, store an answer) may run."""
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment
from labeling.projects.models import Membership
from labeling.waves import pool
from labeling.waves.models import Wave, WaveItem
from labeling.waves.services import open_wave, plan_next_wave

from .test_annotation_helpers import add_member, item_ids, make_open_wave
from .test_loop_helpers import build_project


def api_for(user) -> APIClient:
    """Token auth, as API clients (and the load benchmark) use it."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=user).key)
    return api


def post_answer(api, slug, assignment, label, client_id=None):
    return api.post(f"/api/projects/{slug}/annotations/",
                    {"client_id": str(client_id or uuid.uuid4()), "assignment": assignment, "label": label.pk},
                    format="json")


@pytest.mark.django_db
def test_hot_paths_run_few_queries(project_factory, make_user, django_assert_max_num_queries):
    project = project_factory("hot")
    project.batch_size = 10
    project.save()
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 200, batch_size=10, double={3, 4})
    label = project.labels.first()
    api = api_for(ann)
    # Auth, project and role, the annotator's lease turn, held batch, open waves, stale leases,
    # candidates, insert, slot counts, role, the rules the page highlights, progress (+2 savepoints
    # of the test's transaction).
    with django_assert_max_num_queries(15):
        batch = api.post("/api/projects/hot/batches/", {}, format="json").json()
    assert len(batch["items"]) == 10
    # Auth, project and role, replay check, label, lock, assignment, insert, state, slot counts,
    # then the loop's look at the wave (+2 savepoints); a double-labeled pick adds the look for
    # a disagreement.
    for item in batch["items"]:
        with django_assert_max_num_queries(14):
            assert post_answer(api, "hot", item["assignment"], label).status_code == 201
    with django_assert_max_num_queries(15):  # the second batch: as the first
        assert len(api.post("/api/projects/hot/batches/", {}, format="json").json()["items"]) == 10


@pytest.mark.django_db
def test_closing_a_wave_leaves_live_leases_answerable_and_the_planner_leaves_them_out(project_factory, make_user):
    project, _ = build_project(project_factory, slug="close", n_items=80, n_labeled=0, wave_size=10, batch_size=5,
                               double_label_share=0.0)
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    wave = open_wave(plan_next_wave(project))
    ann_batch, bob_batch = leasing.lease_batch(project, ann), leasing.lease_batch(project, bob)
    label = project.labels.first()
    ann_api = api_for(ann)
    assert post_answer(ann_api, "close", ann_batch.assignments[0].pk, label).status_code == 201

    closed = api_for(lead).post(f"/api/projects/close/waves/{wave.number}/close/", {}, format="json")
    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert body["state"] == Wave.CLOSED and body["live_leases"] == 9
    assert "9 items are still leased" in body["leases_note"] and "count" in body["leases_note"]

    # A live lease on the closed wave is still handed back and answerable; the answer counts.
    held = ann_api.post("/api/projects/close/batches/", {}, format="json").json()
    assert held["resumed"] and [i["item"] for i in held["items"]] == item_ids(ann_batch)[1:]
    late = post_answer(ann_api, "close", ann_batch.assignments[1].pk, label)
    assert late.status_code == 201
    # Nothing of the closed wave is planned again: answered and leased items are off limits.
    all_ten = set(item_ids(ann_batch)) | set(item_ids(bob_batch))
    assert all_ten <= pool.off_limits_items(project)
    second = open_wave(plan_next_wave(project))
    assert not set(second.picks.values_list("item_id", flat=True)) & all_ten

    # Bob's leases run out. One of his items is put in a newer wave (by hand here): his late answer
    # on it is refused, saying why; his answer on an item nobody else asks for is stored.
    Assignment.objects.filter(annotator=bob).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not set(item_ids(bob_batch)) & pool.off_limits_items(project)
    moved = bob_batch.assignments[0].wave_item.item
    WaveItem.objects.create(wave=second, item=moved, strategy="random", batch_number=99, position=0)
    bob_api = api_for(bob)
    refused = post_answer(bob_api, "close", bob_batch.assignments[0].pk, label)
    assert refused.status_code == 409
    assert f"now in wave {second.number}" in refused.json()["detail"]
    assert post_answer(bob_api, "close", bob_batch.assignments[1].pk, label).status_code == 201
    assert Annotation.objects.filter(item=moved).count() == 0


@pytest.mark.django_db
def test_close_page_says_what_happens_to_live_leases(project_factory, make_user, client):
    project = project_factory("closepage")
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 6, batch_size=3)
    leasing.lease_batch(project, ann, size=3)
    client.force_login(lead)
    page = client.post("/p/closepage/waves/close/", {"wave": "1"}, follow=True)
    text = page.content.decode()
    assert "Wave 1 closed." in text and "3 items are still leased" in text


@pytest.mark.django_db
def test_undo_names_the_answer_and_refuses_one_not_stored_yet(project_factory, make_user):
    project = project_factory("undoid")
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 4, batch_size=4)
    batch = leasing.lease_batch(project, ann)
    label = project.labels.first()
    api = api_for(ann)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert post_answer(api, "undoid", batch.assignments[0].pk, label, first).status_code == 201
    # The undo for an answer whose submit is still on the way must not take back the previous one.
    in_flight = uuid.uuid4()
    refused = api.post("/api/projects/undoid/annotations/undo/", {"client_id": str(in_flight)}, format="json")
    assert refused.status_code == 409 and "not stored yet" in refused.json()["detail"]
    assert not Annotation.objects.get(client_id=first).undone
    assert post_answer(api, "undoid", batch.assignments[1].pk, label, second).status_code == 201
    # Naming an answer undoes exactly that one (not simply the latest), and a retry is harmless.
    for _ in range(2):
        undone = api.post("/api/projects/undoid/annotations/undo/", {"client_id": str(first)}, format="json")
        assert undone.status_code == 200 and undone.json()["undone"] is True
    assert Annotation.objects.get(client_id=first).undone and not Annotation.objects.get(client_id=second).undone
    assert Assignment.objects.get(pk=batch.assignments[0].pk).state == Assignment.LEASED
    pick = WaveItem.objects.get(pk=batch.assignments[0].wave_item_id)
    assert (pick.slots_taken, pick.slots_done) == (1, 0)


@pytest.mark.django_db
def test_undoing_the_answer_that_closed_a_wave_keeps_the_item_after_a_reload(project_factory, make_user, client,
                                                                             django_capture_on_commit_callbacks):
    project = project_factory("undoclose")
    ann = add_member(make_user, project, "ann")
    wave, items = make_open_wave(project, 2, batch_size=2)
    batch = leasing.lease_batch(project, ann)
    label = project.labels.first()
    api = api_for(ann)
    assert post_answer(api, "undoclose", batch.assignments[0].pk, label).status_code == 201
    last = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=False):  # the retrain it queues is not under test
        assert post_answer(api, "undoclose", batch.assignments[1].pk, label, last).status_code == 201
    wave.refresh_from_db()
    assert wave.state == Wave.CLOSED  # the last answer completed and closed the wave
    assert api.post("/api/projects/undoclose/annotations/undo/", {"client_id": str(last)},
                    format="json").status_code == 200
    # A reload (the page renders the held batch; the API hands it back) still shows the item.
    client.force_login(ann)
    page = client.get("/p/undoclose/annotate/")
    assert page.status_code == 200
    assert f'"item": {items[1].pk}' in page.content.decode() or f'"item":{items[1].pk}' in page.content.decode()
    held = api.post("/api/projects/undoclose/batches/", {}, format="json").json()
    assert [i["item"] for i in held["items"]] == [items[1].pk]
    assert post_answer(api, "undoclose", held["items"][0]["assignment"], label).status_code == 201
    assert Annotation.objects.filter(item=items[1], undone=False).count() == 1
    assert items[1].pk in pool.off_limits_items(project)


@pytest.mark.django_db
def test_stale_leases_expire_only_in_rows_they_hold(project_factory, make_user):
    project = project_factory("stale")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    make_open_wave(project, 4, batch_size=2)
    mine = leasing.lease_batch(project, ann, size=2)
    Assignment.objects.filter(annotator=ann).update(expires_at=timezone.now() - timedelta(seconds=1))
    # Bob's lease expires ann's stale leases first, so he gets the head of the wave.
    assert item_ids(leasing.lease_batch(project, bob, size=2)) == item_ids(mine)
    assert set(Assignment.objects.filter(annotator=ann).values_list("state", flat=True)) == {Assignment.EXPIRED}
    assert sorted(WaveItem.objects.values_list("slots_taken", flat=True)) == [0, 0, 1, 1]


@pytest.mark.django_db
def test_clearing_an_answer_keeps_the_slot_counts(project_factory, make_user):
    from labeling.annotations.history import change_answer

    project = project_factory("clear")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    wave, _ = make_open_wave(project, 3, batch_size=3)  # two answers leave the wave open
    batch = leasing.lease_batch(project, ann, size=2)
    label = project.labels.first()
    first, second = uuid.uuid4(), uuid.uuid4()
    api = api_for(ann)
    assert post_answer(api, "clear", batch.assignments[0].pk, label, first).status_code == 201
    assert post_answer(api, "clear", batch.assignments[1].pk, label, second).status_code == 201
    change_answer(project, ann, client_id=uuid.uuid4(), supersedes_client_id=first, clear=True)  # open wave: re-opened
    pick = WaveItem.objects.get(pk=batch.assignments[0].wave_item_id)
    assert (pick.slots_taken, pick.slots_done) == (1, 0)
    Wave.objects.filter(pk=wave.pk).update(state=Wave.CLOSED)
    change_answer(project, ann, client_id=uuid.uuid4(), supersedes_client_id=second, clear=True)  # closed: released
    pick = WaveItem.objects.get(pk=batch.assignments[1].wave_item_id)
    assert (pick.slots_taken, pick.slots_done) == (0, 0)
    assert item_ids(leasing.lease_batch(project, bob)) == []  # the wave is closed: nothing to lease
