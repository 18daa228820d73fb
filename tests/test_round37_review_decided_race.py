"""A lead deciding an item of a closed wave while a third annotator answers it on their live
lease, on two real PostgreSQL connections. The decision locks the item's wave items before its
review tasks, the order of an answer's write (its wave item, then the disagreement's tasks): the
two queue behind each other, never deadlock (PostgreSQL would cancel one: a 500), and whichever
comes first decides: an answer stored first stands and keeps its slot; an answer after the
decision is refused (reason decided) and stores nothing. Before, an answer held behind the
decision was stored after it, while the lead's label stood."""
import threading
import uuid

import pytest
from django.db import connection

from labeling.annotations import leasing, review_services, services
from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.waves.models import Wave, WaveItem

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def disputed(project_factory, make_user):
    """An item of a closed wave that two annotators answered differently (an open disagreement),
    with a third annotator's lease on it still live."""
    project = project_factory("race-decided37")
    project.overlap = 3
    project.save()
    make_open_wave(project, 1, double=(0,))
    ann, bob, cat = (add_member(make_user, project, name) for name in ("ann37r", "bob37r", "cat37r"))
    lead = add_member(make_user, project, "lead37r", role="lead")
    billing, login, fraud = (project.labels.get(name=n) for n in ("billing", "login", "fraud"))
    answer(project, ann, leasing.lease_batch(project, ann, size=1).assignments[0], billing)
    answer(project, bob, leasing.lease_batch(project, bob, size=1).assignments[0], login)
    cat_lease = leasing.lease_batch(project, cat, size=1).assignments[0]
    Wave.objects.filter(project=project).update(state=Wave.CLOSED)
    task = ReviewTask.objects.get(reason=ReviewTask.DISAGREEMENT, resolved_at__isnull=True)
    return project, cat, lead, cat_lease, task, fraud


def _held_after(table, paused, go):
    """Hold the connection right after its first statement that locks rows of ``table``."""
    held = []

    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not held and f'"{table}"' in sql and "FOR UPDATE" in sql:
            held.append(sql)
            paused.set()
            go.wait(15)
        return result

    return hook


def _decide(project, lead, task, label, how):
    if how == "resolve":
        return review_services.resolve_review(project, lead, task_id=task.pk, label_id=label.pk)
    return review_services.bulk_review(project, lead, action="relabel", task_ids=[task.pk], label_id=label.pk)


def _cat_answers(project, cat, lease, label):
    return services.submit_answer(project, cat, client_id=uuid.uuid4(), assignment_id=lease.pk, label_id=label.pk)


def _race(first, second):
    """Run ``first`` until it holds its first row lock, then ``second`` until it waits on it."""
    paused, go = threading.Event(), threading.Event()
    table, call = first

    def held_first():
        with connection.execute_wrapper(_held_after(table, paused, go)):
            return call()

    first_thread, first_outcome = in_thread(held_first)
    assert paused.wait(10), f"the first request never locked a row of {table}"
    second_thread, second_outcome = in_thread(second)
    assert wait_until(lambda: backends_waiting_on_locks() >= 1 or not second_thread.is_alive(), timeout=10)
    go.set()
    first_thread.join(timeout=20)
    second_thread.join(timeout=20)
    assert not first_thread.is_alive() and not second_thread.is_alive()
    return first_outcome, second_outcome


@pytest.mark.parametrize("how", ["resolve", "bulk_relabel"])
def test_an_answer_held_behind_the_decision_is_refused(postgres_only, disputed, how):
    project, cat, lead, cat_lease, task, fraud = disputed
    login = project.labels.get(name="login")
    decided, answered = _race(("annotations_reviewtask", lambda: _decide(project, lead, task, fraud, how)),
                              lambda: _cat_answers(project, cat, cat_lease, login))

    assert "error" not in decided, decided
    refused = answered.get("error")
    assert isinstance(refused, services.AnswerRejected) and refused.reason == "decided", answered
    assert not Annotation.objects.filter(annotator=cat).exists()
    assert Assignment.objects.get(pk=cat_lease.pk).state == Assignment.EXPIRED
    assert WaveItem.objects.get().slots_taken == 2  # ann's and bob's; cat's went back


@pytest.mark.parametrize("how", ["resolve", "bulk_relabel"])
def test_an_answer_stored_first_stands_and_the_decision_waits_for_it(postgres_only, disputed, how):
    project, cat, lead, cat_lease, task, fraud = disputed
    login = project.labels.get(name="login")
    answered, decided = _race(("waves_waveitem", lambda: _cat_answers(project, cat, cat_lease, login)),
                              lambda: _decide(project, lead, task, fraud, how))

    assert "error" not in answered, answered  # a deadlock: PostgreSQL cancels one of them (a 500)
    assert "error" not in decided, decided
    assert Annotation.objects.get(annotator=cat).label_id == login.pk
    assert Assignment.objects.get(pk=cat_lease.pk).state == Assignment.DONE
    assert WaveItem.objects.get().slots_taken == 3
    assert Annotation.objects.get(origin=Annotation.ADJUDICATION).label_id == fraud.pk
    assert not ReviewTask.objects.filter(resolved_at__isnull=True).exists()
