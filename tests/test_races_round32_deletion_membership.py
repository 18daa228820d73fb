"""Deleting a project (``delete_project --force``) while a member changes or undoes an answer, on two
real PostgreSQL connections: the member's write holds its membership share-locked when the deletion
starts. Both used to take their locks in opposite orders (membership then project, project then
membership) and PostgreSQL cancelled one with "deadlock detected"; now the deletion waits, and the
write either commits first or is refused as the member's."""
import threading
import uuid

import pytest
from django.db import connection

from labeling.annotations import history, leasing, services
from labeling.projects.deletion import delete_project
from labeling.projects.models import Membership, Project

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _paused_after_membership_lock(paused, go):
    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "projects_membership" in sql and "FOR KEY SHARE" in sql:
            paused.set()
            go.wait(15)
        return result

    return hook


def _change(project, user, stored):
    return history.change_answer(project, user, client_id=uuid.uuid4(), supersedes_client_id=stored.client_id,
                                 label_id=project.labels.last().pk)


def _undo(project, user, stored):
    return services.undo_last_answer(project, user)


@pytest.mark.parametrize("write", [_change, _undo], ids=["change", "undo"])
def test_deleting_a_project_while_a_member_writes_does_not_deadlock(postgres_only, project_factory, make_user, write):
    project = project_factory(f"delete-while-{write.__name__[1:]}")
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lead", role=Membership.LEAD)
    make_open_wave(project, 2)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    stored = answer(project, ann, lease, project.labels.first()).annotation
    paused, go = threading.Event(), threading.Event()

    def member_writes():
        with connection.execute_wrapper(_paused_after_membership_lock(paused, go)):
            return write(project, ann, stored)

    writer, written = in_thread(member_writes)
    assert paused.wait(10)
    deleter, deleted = in_thread(lambda: delete_project(project, force=True))
    assert wait_until(lambda: backends_waiting_on_locks() >= 1, timeout=10)  # the deletion waits for the member
    go.set()
    writer.join(20)
    deleter.join(20)
    assert "error" not in written, written
    assert "error" not in deleted, deleted
    assert not Project.objects.filter(pk=project.pk).exists()
