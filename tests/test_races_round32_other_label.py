"""The "none of these" label created on an annotator's first use while a lead saves labels, on two
real PostgreSQL connections. The annotator's request is held by a statement hook on its own
connection at the point where the two used to collide; neither side may fail with an integrity
error (a 500): the answer goes to the one Other label, the lead's save is refused with a message."""
import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from labeling.annotations import leasing, services
from labeling.projects import services as project_services
from labeling.projects.models import Label

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, make_open_wave
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _hold_after(statement_start, paused, go):
    """Hold the connection right after the first statement that starts with ``statement_start``."""
    held = []

    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not held and sql.lstrip().startswith(statement_start) and '"projects_label"' in sql:
            held.append(sql)
            paused.set()
            go.wait(15)
        return result

    return hook


def _none_of_these(project, user, lease):
    return services.submit_answer(project, user, client_id=uuid.uuid4(), assignment_id=lease.pk, none_of_these=True)


def test_a_lead_adding_other_while_the_first_none_of_these_comes_in(postgres_only, project_factory, make_user):
    """The annotator's request looked for an Other label (none yet); the lead's new Other commits
    before it creates one: the answer takes the lead's label instead of failing."""
    project = project_factory("race-other-lead-first")
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 1)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    paused, go = threading.Event(), threading.Event()

    def answer_none():
        with connection.execute_wrapper(_hold_after("SELECT", paused, go)):
            return _none_of_these(project, ann, lease)

    answering, answered = in_thread(answer_none)
    assert paused.wait(10), "the answer never read the labels"
    lead_other = project_services.save_label(project, None, name="Other", is_other=True, hotkey="0")
    go.set()
    answering.join(timeout=15)

    assert "error" not in answered, answered  # an IntegrityError here is the 500
    assert answered["result"].annotation.label_id == lead_other.pk
    assert list(Label.objects.filter(project=project, is_other=True).values_list("name", flat=True)) == ["Other"]


@pytest.mark.parametrize("labels", [("billing", "login"), ()], ids=["labels", "no-labels-yet"])
def test_a_lead_adding_other_while_the_first_none_of_these_creates_its_label(postgres_only, project_factory,
                                                                              make_user, labels):
    """The annotator's "None of these" is being created when the lead saves an Other of their own:
    the lead is told there is one already (a 400), and the answer is stored on it. Without labels
    there is no row to lock: the lead's save meets the constraint, and says so as well."""
    project = project_factory(f"race-other-answer-first-{len(labels)}", labels=labels)
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 1)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    paused, go = threading.Event(), threading.Event()

    def answer_none():
        with connection.execute_wrapper(_hold_after("INSERT", paused, go)):
            return _none_of_these(project, ann, lease)

    def lead_saves_other():
        return project_services.save_label(project, None, name="Other", is_other=True, hotkey="")

    answering, answered = in_thread(answer_none)
    assert paused.wait(10), "the answer never created its label"
    saving, saved = in_thread(lead_saves_other)
    assert wait_until(lambda: backends_waiting_on_locks() >= 1 or not saving.is_alive(), timeout=10)
    go.set()
    answering.join(timeout=15)
    saving.join(timeout=15)

    assert "error" not in answered, answered
    other = Label.objects.get(project=project, is_other=True)
    assert other.name == services.OTHER_LABEL_NAME
    assert answered["result"].annotation.label_id == other.pk
    assert isinstance(saved.get("error"), ValidationError), saved  # not an IntegrityError (a 500)
    assert "one top-level Other label" in str(saved["error"])


def test_two_first_none_of_these_at_once_share_one_label(postgres_only, project_factory, make_user):
    project = project_factory("race-other-two-answers")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    make_open_wave(project, 2)
    leases = {user: leasing.lease_batch(project, user, size=1).assignments[0] for user in (ann, bob)}
    paused, go = threading.Event(), threading.Event()

    def answer_none():
        with connection.execute_wrapper(_hold_after("INSERT", paused, go)):
            return _none_of_these(project, ann, leases[ann])

    first, first_out = in_thread(answer_none)
    assert paused.wait(10), "the first answer never created its label"
    second, second_out = in_thread(_none_of_these, project, bob, leases[bob])
    assert wait_until(lambda: backends_waiting_on_locks() >= 1 or not second.is_alive(), timeout=10)
    go.set()
    first.join(timeout=15)
    second.join(timeout=15)

    assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
    other = Label.objects.get(project=project, is_other=True)
    assert {first_out["result"].annotation.label_id, second_out["result"].annotation.label_id} == {other.pk}
