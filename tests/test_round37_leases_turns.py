"""One annotator asking for a batch twice at the same moment (two tabs) ends up with one batch: the
second ask waits for the first's commit (an advisory lock per annotator, leasing.take_lease_turn)
and is handed that batch back, as a sequential second ask is. Before, each ask found no batch held
and leased a fresh one of different items (SKIP LOCKED kept them apart). Real PostgreSQL
connections, one per thread; the first ask is held right after it wrote its batch."""
import threading

import pytest
from django.db import connection

from labeling.annotations import leasing
from labeling.annotations.models import Assignment

from .db_threads import backends_waiting_on_locks, in_thread, wait_until
from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db(transaction=True)


def lease_held_after_its_insert(project, user, written: threading.Event, go: threading.Event):
    """lease_batch, paused inside its transaction right after the INSERT of its batch."""
    def hold(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "annotations_assignment"'):
            written.set()
            go.wait(15)
        return result

    with connection.execute_wrapper(hold):
        return leasing.lease_batch(project, user)


def test_two_asks_of_one_annotator_at_once_get_one_batch(postgres_only, project_factory, make_user):
    project = project_factory("turns37")
    project.batch_size = 2
    project.save()
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 6)
    written, go = threading.Event(), threading.Event()

    first, first_out = in_thread(lease_held_after_its_insert, project, ann, written, go)
    assert written.wait(10), "the first ask never wrote its batch"
    second, second_out = in_thread(leasing.lease_batch, project, ann)
    # The second ask waits for the first (or, without its turn, finishes a batch of its own).
    wait_until(lambda: not second.is_alive() or backends_waiting_on_locks() >= 1)
    go.set()
    first.join(timeout=15)
    second.join(timeout=15)

    assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
    one, two = first_out["result"], second_out["result"]
    assert not one.resumed and len(one.assignments) == 2
    assert two.resumed, "the second ask leased a batch of its own"
    assert [a.pk for a in two.assignments] == [a.pk for a in one.assignments]
    assert Assignment.objects.filter(annotator=ann, state=Assignment.LEASED).count() == 2


def test_another_annotator_does_not_wait_for_that_turn(postgres_only, project_factory, make_user):
    project = project_factory("turns37b")
    project.batch_size = 2
    project.save()
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    make_open_wave(project, 6)
    written, go = threading.Event(), threading.Event()

    first, first_out = in_thread(lease_held_after_its_insert, project, ann, written, go)
    assert written.wait(10), "the first ask never wrote its batch"
    other, other_out = in_thread(leasing.lease_batch, project, bob)
    other.join(timeout=10)
    finished_while_ann_held = not other.is_alive()
    go.set()
    first.join(timeout=15)
    other.join(timeout=15)

    assert finished_while_ann_held
    assert "error" not in other_out, other_out
    assert len(other_out["result"].assignments) == 2
    assert not {a.wave_item_id for a in other_out["result"].assignments} & {
        a.wave_item_id for a in first_out["result"].assignments}
