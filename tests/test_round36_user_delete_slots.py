"""A deleted user's answers stay in the data (Annotation.annotator and .assignment are SET_NULL), so
they stay counted: the slot each answer took stays taken and done, and the item is not handed to
someone else for an answer it has. Only their unanswered leases go back to the pool. Before, the
deletion gave back the answered slots too: the item of an open wave they answered was leased again
(answered twice for an overlap of one), while the wave's completion check, which counts the
item's answers, already took it as complete.

Every path that deletes a user runs this (the pre_delete receiver): the admin's user page and a shell.
"""
import uuid

import pytest
from django.contrib.auth import get_user_model

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment
from labeling.annotations.selectors import wave_progress
from labeling.annotations.services import AnswerRejected, submit_answer
from labeling.annotations.waiting import why_waiting
from labeling.projects.models import Membership
from labeling.waves import selectors as wave_selectors
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def wave(project_factory, make_user):
    """An open wave of four picks, overlap 1 except the last (overlap 2), in batches of two; ann
    leased the first batch, answered its first pick and holds the second unanswered."""
    project = project_factory("gone", labels=("billing", "login"))
    project.batch_size, project.overlap = 2, 2
    project.save()
    opened, items = make_open_wave(project, 4, double=(3,), shuffle=False)
    add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob, cat = (add_member(make_user, project, name) for name in ("ann", "bob", "cat"))
    leased = leasing.lease_batch(project, ann).assignments
    assert [a.wave_item.item_id for a in leased] == [items[0].pk, items[1].pk]
    answer(project, ann, leased[0], project.labels.get(name="billing"))
    return {"project": project, "wave": opened, "items": items, "ann": ann, "bob": bob, "cat": cat}


def _slots(items) -> list[tuple[int, int]]:
    by_item = {item_id: (taken, done) for item_id, taken, done in
               WaveItem.objects.values_list("item_id", "slots_taken", "slots_done")}
    return [by_item[item.pk] for item in items]


def _delete(user, path, admin_client):
    if path == "admin":
        assert admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"}).status_code == 302
    else:
        get_user_model().objects.get(pk=user.pk).delete()
    assert not get_user_model().objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("path", ["admin", "shell"])
def test_a_deleted_users_answered_item_is_not_handed_out_again(wave, admin_client, path):
    project, items, ann, bob = wave["project"], wave["items"], wave["ann"], wave["bob"]
    assert _slots(items) == [(1, 1), (1, 0), (0, 0), (0, 0)]
    _delete(ann, path, admin_client)

    # Their answer stays, with no annotator, and keeps its slot; their lease's slot went back.
    kept = Annotation.objects.get(item=items[0])
    assert kept.annotator_id is None and not kept.undone
    assert _slots(items) == [(1, 1), (0, 0), (0, 0), (0, 0)]
    assert wave_progress(project) == {"waves": [1], "needed": 5, "done": 1, "leased": 0}

    # bob is handed the rest, never the item ann answered (before: he was handed it again first).
    handed = [a.wave_item.item_id for a in leasing.lease_batch(project, bob).assignments]
    assert items[0].pk not in handed
    assert handed == [items[1].pk, items[2].pk]


def test_the_wave_completes_with_the_deleted_users_answers_counted_once(wave, admin_client):
    project, opened, items = wave["project"], wave["wave"], wave["items"]
    ann, bob, cat = wave["ann"], wave["bob"], wave["cat"]
    label = project.labels.get(name="login")
    # ann also answered the double-labeled pick (overlap 2) before leaving: it needs one more answer.
    mine = leasing.lease_batch(project, ann).assignments
    answer(project, ann, next(a for a in mine if a.wave_item.item_id == items[1].pk), label)
    ann_batch_2 = [a for a in leasing.lease_batch(project, ann).assignments]
    double = next(a for a in ann_batch_2 if a.wave_item.item_id == items[3].pk)
    answer(project, ann, double, label)
    _delete(ann, "shell", admin_client)
    assert _slots(items) == [(1, 1), (1, 1), (0, 0), (1, 1)]

    seen: dict[str, list[int]] = {}
    for user in (bob, cat, bob):
        for assignment in leasing.lease_batch(project, user).assignments:
            seen.setdefault(user.username, []).append(assignment.wave_item.item_id)
            answer(project, user, assignment, label)
    # Only the picks still short of answers were handed out: item 2 once, the double pick once more.
    assert sorted(seen.get("bob", []) + seen.get("cat", [])) == sorted([items[2].pk, items[3].pk])
    assert _slots(items) == [(1, 1), (1, 1), (1, 1), (2, 2)]
    assert [Annotation.objects.filter(item=item, undone=False).count() for item in items] == [1, 1, 1, 2]
    # The counters agree with the completion check, which counts the items' answers.
    assert wave_selectors.wave_is_complete(opened)
    opened.refresh_from_db()
    assert opened.state != Wave.OPEN  # the last answer closed it, as a complete wave closes
    assert not Assignment.objects.filter(annotator_id=ann.pk).exists()


def test_a_deleted_users_answered_item_takes_no_second_answer_by_item_id(wave, admin_client):
    """Answering by item id (the API's ``item``) finds the pick's free slots as leasing does: from its
    count, which keeps the deleted user's answer. Before, it counted the assignment rows there are,
    found none for the deleted user's answer, and stored a second answer on a pick of overlap 1."""
    project, items, ann, bob = wave["project"], wave["items"], wave["ann"], wave["bob"]
    _delete(ann, "shell", admin_client)
    with pytest.raises(AnswerRejected):
        submit_answer(project, bob, client_id=uuid.uuid4(), item_id=items[0].pk,
                      label_id=project.labels.get(name="login").pk)
    assert Annotation.objects.filter(item=items[0], undone=False).count() == 1
    assert _slots(items)[0] == (1, 1)
    # A pick with a free slot still takes an answer by item id.
    stored = submit_answer(project, bob, client_id=uuid.uuid4(), item_id=items[2].pk,
                           label_id=project.labels.get(name="login").pk)
    assert stored.created and _slots(items)[2] == (1, 1)


def test_the_waiting_message_counts_a_deleted_users_answers(project_factory, make_user):
    """Why a lease came back empty (``why_waiting``) counts a pick's answers from its count, as
    leasing does: counted from the assignment rows, the picks a deleted user had answered looked
    short of an answer for ever, and the page said they waited for another annotator."""
    project = project_factory("waits", labels=("billing", "login"))
    project.batch_size, project.overlap = 2, 2
    project.save()
    make_open_wave(project, 3, double=(0, 1), shuffle=False)
    add_member(make_user, project, "lena", role=Membership.LEAD)
    dan, ann, bob = (add_member(make_user, project, name) for name in ("dan", "ann", "bob"))
    billing = project.labels.get(name="billing")
    for user in (dan, ann):  # both answer the two double picks
        for assignment in leasing.lease_batch(project, user).assignments:
            answer(project, user, assignment, billing)
    assert len(leasing.lease_batch(project, bob).assignments) == 1  # the single pick
    get_user_model().objects.get(pk=dan.pk).delete()
    assert leasing.lease_batch(project, ann).assignments == []
    waiting = why_waiting(project, ann)
    assert waiting["waiting_for_others"] == 0 and waiting["reason"] != "second_annotator", waiting["message"]
