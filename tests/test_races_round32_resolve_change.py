"""A lead deciding an item while its annotator changes an answer, with a disagreement and a label
issue both open on it, on two real PostgreSQL connections. The lead's request is held right after
it locked review tasks (a statement hook on its own connection) while the change runs into it: the
two must queue behind each other, never deadlock (PostgreSQL would cancel one with an error: a 500)."""
import threading
import uuid

import pytest
from django.db import connection

from labeling.annotations import history, leasing, review_services, services
from labeling.annotations.models import Annotation, ReviewTask

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _disputed_item(project, make_user):
    """An item two annotators answered differently (an open disagreement), then flagged as a label
    issue (the out-of-fold scan's row, as label_issues writes it)."""
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lead = add_member(make_user, project, "lead", role="lead")
    billing, login, fraud = (project.labels.get(name=n) for n in ("billing", "login", "fraud"))
    make_open_wave(project, 1, double=(0,))
    ann_lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    bob_lease = leasing.lease_batch(project, bob, size=1).assignments[0]
    ann_answer = answer(project, ann, ann_lease, billing).annotation
    answer(project, bob, bob_lease, login)
    item_id = ann_answer.item_id
    disagreement = ReviewTask.objects.get(item_id=item_id, reason=ReviewTask.DISAGREEMENT, resolved_at__isnull=True)
    issue = ReviewTask.objects.create(
        project=project, item_id=item_id, reason=ReviewTask.LABEL_ISSUE, model_version=1,
        detail={"given_label": "login", "given_label_id": login.pk, "suggested_label": "fraud",
                "suggested_label_id": fraud.pk})
    return ann, lead, ann_answer, disagreement, issue, fraud


def _held_after_task_lock(paused, go):
    """Hold the connection right after its first statement that locks review tasks."""
    held = []

    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not held and '"annotations_reviewtask"' in sql and "FOR UPDATE" in sql:
            held.append(sql)
            paused.set()
            go.wait(15)
        return result

    return hook


def _decide(project, lead, issue, label, how):
    if how == "resolve":
        return review_services.resolve_review(project, lead, task_id=issue.pk, label_id=label.pk)
    return review_services.bulk_review(project, lead, action="relabel", task_ids=[issue.pk], label_id=label.pk)


@pytest.mark.parametrize("how", ["resolve", "bulk_relabel"])
def test_lead_deciding_while_the_annotator_changes_never_deadlocks(postgres_only, project_factory, make_user, how):
    project = project_factory(f"race-decide-{how.replace('_', '-')}")
    ann, lead, ann_answer, disagreement, issue, fraud = _disputed_item(project, make_user)
    login = project.labels.get(name="login")
    paused, go = threading.Event(), threading.Event()

    def decide():
        with connection.execute_wrapper(_held_after_task_lock(paused, go)):
            return _decide(project, lead, issue, fraud, how)

    def change():  # ann now agrees with bob: the disagreement and the issue's "labeled login" both move
        return history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=ann_answer.pk,
                                     label_id=login.pk)

    decider, decided = in_thread(decide)
    assert paused.wait(10), "the lead's request never locked a review task"
    changer, changed = in_thread(change)
    # The change runs until it needs a task row the lead holds.
    assert wait_until(lambda: backends_waiting_on_locks() >= 1 or not changer.is_alive(), timeout=10)
    go.set()
    decider.join(timeout=20)
    changer.join(timeout=20)

    assert not decider.is_alive() and not changer.is_alive()
    assert "error" not in decided, decided  # a deadlock: PostgreSQL cancels one of them (a 500)
    assert "error" not in changed, changed
    # The lead's decision stands and closed both tasks; the change is stored after it.
    adjudication = Annotation.objects.get(item_id=ann_answer.item_id, origin=Annotation.ADJUDICATION)
    assert adjudication.label_id == fraud.pk
    assert not ReviewTask.objects.filter(item_id=ann_answer.item_id, resolved_at__isnull=True).exists()
    for task in (disagreement, issue):
        task.refresh_from_db()
        assert task.resolved_at is not None and task.resolved_label_id == fraud.pk
    assert changed["result"].annotation.label_id == login.pk


def test_a_disagreement_withdrawn_while_the_lead_resolves_it_is_reported_not_failed(postgres_only, project_factory,
                                                                                    make_user):
    """The annotator's change ends the disagreement (its task is deleted) while the lead resolves that
    very task: the lead waits for the change and is told the task is gone (a 404), nothing is stored."""
    project = project_factory("race-decide-withdrawn")
    ann, lead, ann_answer, disagreement, _issue, fraud = _disputed_item(project, make_user)
    login = project.labels.get(name="login")
    paused, go = threading.Event(), threading.Event()

    def hold_after_delete(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('DELETE FROM "annotations_reviewtask"'):
            paused.set()
            go.wait(15)
        return result

    def change():
        with connection.execute_wrapper(hold_after_delete):
            return history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=ann_answer.pk,
                                         label_id=login.pk)

    changer, changed = in_thread(change)
    assert paused.wait(10), "the change never withdrew the disagreement"
    decider, decided = in_thread(lambda: review_services.resolve_review(project, lead, task_id=disagreement.pk,
                                                                 label_id=fraud.pk))
    assert wait_until(lambda: backends_waiting_on_locks() >= 1 or not decider.is_alive(), timeout=10)
    go.set()
    changer.join(timeout=15)
    decider.join(timeout=15)

    assert "error" not in changed, changed
    assert isinstance(decided.get("error"), services.NotFound), decided
    assert not ReviewTask.objects.filter(pk=disagreement.pk).exists()
    assert not Annotation.objects.filter(item_id=ann_answer.item_id, origin=Annotation.ADJUDICATION).exists()
