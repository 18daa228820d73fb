"""Exclusion, what a reader of the day's changes found:
- an item excluded while an annotator held it: when that lease runs out unanswered, the pick asks
  for no more answers and the wave may be complete; nothing closed it (no answer would come).
- the exclusion took the project's row FOR UPDATE and then waited for a pick an answer held; the
  answer's commit then needed the key-share lock its foreign key takes on that project row: a
  deadlock, and the answer failed with a 500."""
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from labeling.annotations import leasing, services
from labeling.annotations.models import Annotation, Assignment
from labeling.items import bulk
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from labeling.waves import selectors
from labeling.waves.models import Wave, WaveItem

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, make_open_wave


@pytest.mark.django_db
def test_a_held_excluded_pick_whose_lease_runs_out_closes_the_complete_wave(
        project_factory, make_user, django_capture_on_commit_callbacks):
    project = project_factory("exheld37")
    project.batch_size = 2
    project.save()
    wave, _ = make_open_wave(project, 2)
    ann, bob = add_member(make_user, project, "exann37"), add_member(make_user, project, "exbob37")
    lead = add_member(make_user, project, "exlead37", role=Membership.LEAD)
    first, second = leasing.lease_batch(project, ann).assignments
    services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=first.pk,
                           label_id=project.labels.first().pk)
    with django_capture_on_commit_callbacks(execute=True):
        bulk.apply(project, "exclude", [second.wave_item.item_id], lead)
    wave.refresh_from_db()
    assert wave.state == Wave.OPEN  # the held lease may still be answered

    Assignment.objects.filter(pk=second.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        leasing.lease_batch(project, bob)  # the next ask sweeps the lapsed lease
    assert WaveItem.objects.get(pk=second.wave_item_id).overlap == 0
    wave.refresh_from_db()
    assert wave.state == Wave.CLOSED and selectors.wave_is_complete(wave)
    assert TaskRun.objects.filter(project=project, kind="retrain", detail__reason="wave_complete").exists()


@pytest.mark.django_db(transaction=True)
def test_an_exclusion_and_an_answer_on_the_same_pick_do_not_deadlock(project_factory, make_user, postgres_only):
    project = project_factory("exlock37")
    project.batch_size = 2
    project.save()
    make_open_wave(project, 2)
    ann = add_member(make_user, project, "exann37b")
    lead = add_member(make_user, project, "exlead37b", role=Membership.LEAD)
    held = leasing.lease_batch(project, ann).assignments[0]
    locked, go = threading.Event(), threading.Event()

    def answer():
        # An answer's locks in its order: the pick's row, then at commit the (deferred) foreign-key
        # check of the new answer, a key-share lock on the project's row.
        with transaction.atomic():
            WaveItem.objects.select_for_update().get(pk=held.wave_item_id)
            locked.set()
            assert go.wait(30)
            Annotation.objects.create(project=project, item_id=held.wave_item.item_id, annotator=ann,
                                      assignment=held, label=project.labels.first(), client_id=uuid.uuid4())
        return "stored"

    answering, answered = in_thread(answer)
    assert locked.wait(30)
    excluding, excluded = in_thread(lambda: bulk.apply(project, "exclude", [held.wave_item.item_id], lead))
    deadline = time.monotonic() + 30
    while backends_waiting_on_locks() < 1:  # the exclusion waits for the pick
        assert time.monotonic() < deadline, "the exclusion never waited for the pick"
        time.sleep(0.05)
    go.set()
    answering.join(60)
    excluding.join(60)
    assert answered == {"result": "stored"}, answered
    assert "error" not in excluded, excluded
