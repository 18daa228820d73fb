"""An answer sent by a member who is removed meanwhile, on real PostgreSQL connections. A removal
expires the member's leases and frees their slots; an answer on such a lease (or on one that ran
out by itself) takes a slot again, so it is stored only while the annotator is still a member. An
answer on a live lease, nearly every one, takes no membership lock: a removal that comes after it
waits for the answer's item and then finds it answered (the answer came first)."""
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment
from labeling.projects.membership import remove_member
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def leased_member(project_factory, make_user, slug):
    project = project_factory(slug)
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lead", role=Membership.LEAD)
    make_open_wave(project, 1)
    return project, ann, leasing.lease_batch(project, ann, size=1).assignments[0]


@pytest.mark.parametrize("lease_ran_out", [False, True], ids=["lease-live-when-removed", "lease-ran-out-before"])
def test_an_answer_sent_before_the_removal_and_stored_after_it_is_refused(postgres_only, project_factory, make_user,
                                                                          lease_ran_out):
    """The request passed its membership check, then the removal committed (expiring the lease and
    freeing the slot): the answer is refused, nothing stored, the slot stays free."""
    project, ann, lease = leased_member(project_factory, make_user, f"removed-then-answer-{int(lease_ran_out)}")
    if lease_ran_out:
        Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    remove_member(Membership.objects.get(project=project, user=ann))

    with pytest.raises(PermissionDenied, match="no longer a member of project .*; your answer was not stored"):
        answer(project, ann, lease, project.labels.first())
    assert not Annotation.objects.filter(annotator=ann).exists()
    assert list(WaveItem.objects.filter(wave__project=project).values_list("slots_taken", "slots_done")) == [(0, 0)]


def test_an_expired_lease_answer_holding_the_membership_is_stored_and_the_removal_waits(postgres_only, project_factory,
                                                                                          make_user):
    """The answer on an expired lease holds the member's membership (share lock) when the lead
    removes them: the removal waits for it, then completes; the answer is kept (it came first), no
    deadlock, no error on either side."""
    project, ann, lease = leased_member(project_factory, make_user, "answer-then-removal")
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    paused, go = threading.Event(), threading.Event()

    def hold_after_membership(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if '"projects_membership"' in sql and "FOR KEY SHARE" in sql and not paused.is_set():
            paused.set()
            go.wait(15)
        return result

    def answer_expired():
        with connection.execute_wrapper(hold_after_membership):
            return answer(project, ann, lease, project.labels.first())

    answering, answered = in_thread(answer_expired)
    assert paused.wait(10), answered
    remover, removed = in_thread(remove_member, Membership.objects.get(project=project, user=ann))
    assert wait_until(lambda: backends_waiting_on_locks() >= 1), "the removal did not wait for the answer"
    go.set()
    answering.join(timeout=15)
    remover.join(timeout=15)

    assert "error" not in answered, answered
    assert "error" not in removed, removed
    assert Annotation.objects.filter(annotator=ann).count() == 1
    assert not Membership.objects.filter(project=project, user=ann).exists()
    assert list(WaveItem.objects.filter(wave__project=project).values_list("slots_taken", "slots_done")) == [(1, 1)]
