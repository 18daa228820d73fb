"""Removing a member while a lease of theirs is being committed, on two real PostgreSQL
connections: the lease is held inside its transaction right after it inserted the assignments (a
statement hook on its own connection) while the lead removes the member. Whichever commits first,
no lease of the removed member survives, and the item's slot is free again."""
import threading
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from labeling.annotations import history, leasing, services
from labeling.annotations.models import Annotation, Assignment
from labeling.projects.membership import remove_member
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _held_after_lease_insert(paused, go):
    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "annotations_assignment"'):
            paused.set()
            go.wait(15)
        return result

    return hook


def test_a_lease_committing_while_its_member_is_removed_does_not_survive(postgres_only, project_factory, make_user):
    project = project_factory("race-remove-lease")
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lead", role=Membership.LEAD)
    make_open_wave(project, 2)
    paused, go = threading.Event(), threading.Event()

    def lease():
        with connection.execute_wrapper(_held_after_lease_insert(paused, go)):
            return leasing.lease_batch(project, ann, size=2)

    leaser, leased = in_thread(lease)
    assert paused.wait(10), "the lease never inserted its assignments"
    remover, removed = in_thread(remove_member, Membership.objects.get(project=project, user=ann))
    # The removal either finishes (it did not see the lease) or waits for the lease's commit.
    assert wait_until(lambda: not remover.is_alive() or backends_waiting_on_locks() >= 1, timeout=10)
    go.set()
    leaser.join(timeout=15)
    remover.join(timeout=15)

    assert not leaser.is_alive() and not remover.is_alive()
    assert "error" not in removed, removed
    assert not Membership.objects.filter(project=project, user=ann).exists()
    # The lease went through (it came first) or was refused; either way none of it is still held.
    assert not Assignment.objects.filter(annotator=ann, state=Assignment.LEASED).exists()
    assert list(WaveItem.objects.filter(wave__project=project).values_list("slots_taken", flat=True)) == [0, 0]
    if "result" in leased:
        assert len(leased["result"].assignments) == 2


def test_a_lease_asked_for_before_the_removal_and_run_after_it_is_refused(postgres_only, project_factory, make_user):
    """The request passed its membership check, then the removal committed: no lease is handed out."""
    project = project_factory("race-removed-then-lease")
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lead", role=Membership.LEAD)
    make_open_wave(project, 2)
    remove_member(Membership.objects.get(project=project, user=ann))

    with pytest.raises(PermissionDenied, match="no longer a member of project 'race-removed-then-lease'"):
        leasing.lease_batch(project, ann, size=2)
    assert not Assignment.objects.filter(annotator=ann).exists()
    assert list(WaveItem.objects.filter(wave__project=project).values_list("slots_taken", flat=True)) == [0, 0]
    # An admin needs no membership to lease.
    admin = make_user("root", superuser=True)
    assert len(leasing.lease_batch(project, admin, size=2).assignments) == 2


def _undo(project, user, stored):
    services.undo_last_answer(project, user)


def _clear(project, user, stored):
    history.change_answer(project, user, client_id=uuid.uuid4(), supersedes_client_id=stored.client_id, clear=True)


@pytest.mark.parametrize("give_back", [_undo, _clear], ids=["undo", "clear"])
def test_an_undo_or_clear_run_after_the_removal_reopens_no_lease(postgres_only, project_factory, make_user, give_back):
    """An undo, or clearing an answer in the history, gives the item back to its annotator as a
    lease: a removed member's would be held until it ran out, as a lease committed after the
    removal would."""
    project = project_factory(f"race-removed-then-{give_back.__name__[1:]}")
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lead", role=Membership.LEAD)
    make_open_wave(project, 1)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    stored = answer(project, ann, lease, project.labels.first()).annotation
    remove_member(Membership.objects.get(project=project, user=ann))

    with pytest.raises(PermissionDenied, match="no longer a member"):
        give_back(project, ann, stored)
    stored.refresh_from_db()
    lease.refresh_from_db()
    assert not stored.undone and lease.state == Assignment.DONE
    assert Annotation.objects.filter(annotator=ann, undone=False).count() == 1
    assert not Assignment.objects.filter(annotator=ann, state=Assignment.LEASED).exists()
