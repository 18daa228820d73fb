"""Builders shared by the annotation, leasing, agreement and review tests (no tests here).

Waves are created directly as rows in state "open": these tests do not depend on the planner."""
import random
import uuid
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations import leasing, services
from labeling.annotations.models import Annotation, Assignment
from labeling.items.models import Item
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash


def api_as(user) -> APIClient:
    """An API client signed in as ``user``."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def ask_batch(user, slug: str) -> dict:
    """``user`` asks for a batch in project ``slug`` through the API (200 expected): the reply."""
    response = api_as(user).post(f"/api/projects/{slug}/batches/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def add_member(make_user, project, username, role=Membership.ANNOTATOR):
    user = make_user(username)
    Membership.objects.create(user=user, project=project, role=role)
    return user


def short_lease_project(project_factory, settings, slug, *, lease_seconds, renewal_periods=2, batch_size=2):
    """A project whose leases last ``lease_seconds`` and renew for ``renewal_periods`` periods."""
    settings.LONGTAIL_LEASE_SECONDS = lease_seconds
    settings.LONGTAIL_LEASE_RENEWAL_PERIODS = renewal_periods
    project = project_factory(slug)
    project.batch_size = batch_size
    project.save()
    return project


def make_open_wave(project, n_items=10, *, number=1, batch_size=None, double=(), texts=None, shuffle=True,
                   state=Wave.OPEN):
    """A wave of ``n_items`` new items; indices in ``double`` get overlap = project.overlap.
    Rows are inserted in shuffled order so lease order must come from (batch_number, position)."""
    batch_size = batch_size or project.batch_size
    source = project.sources.first()
    items = [
        Item.objects.create(
            project=project, source=source, text=(texts[i] if texts else f"wave {number} item {i}"),
            text_hash=text_hash(texts[i] if texts else f"wave {number} item {i}"),
        )
        for i in range(n_items)
    ]
    wave = Wave.objects.create(project=project, number=number, state=state, size=n_items)
    order = list(range(n_items))
    if shuffle:
        random.Random(number).shuffle(order)
    for i in order:
        WaveItem.objects.create(
            wave=wave, item=items[i], strategy="random" if i % 2 else "rare",
            reason=f"picked because of reason {i}", inclusion_prob=0.25,
            overlap=project.overlap if i in double else 1,
            batch_number=i // batch_size, position=i % batch_size, likely_rare=i % 2 == 0,
        )
    return wave, items


def item_ids(leased):
    return [a.wave_item.item_id for a in leased.assignments]


def answer(project, user, assignment, label, **extra):
    """Store an answer through the service with a fresh client id."""
    import uuid

    from labeling.annotations.services import submit_answer

    return submit_answer(project, user, client_id=uuid.uuid4(), assignment_id=assignment.pk,
                         label_id=label.pk if label is not None else None, **extra)


def live_answers(item):
    return Annotation.objects.filter(item=item, undone=False)


def assignments_of(user):
    return Assignment.objects.filter(annotator=user)


def earlier_and_current_batches(project, ann):
    """An earlier batch of ``ann`` answered 200 s ago, and the current batch leased 150 s ago with
    nobody answering in it since (on a project whose renewal limit is 2 periods of 60 s: 30 s past
    it), its leases still live for 20 s. Returns (earlier assignments, their answers, current)."""
    make_open_wave(project, 4)
    label = project.labels.get(name="billing")
    earlier = leasing.lease_batch(project, ann).assignments
    answers = [services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=a.pk,
                                      label_id=label.pk).annotation for a in earlier]
    current = leasing.lease_batch(project, ann).assignments
    now = timezone.now()
    Assignment.objects.filter(pk__in=[a.pk for a in earlier]).update(leased_at=now - timedelta(seconds=260))
    Annotation.objects.filter(pk__in=[a.pk for a in answers]).update(created_at=now - timedelta(seconds=200))
    Assignment.objects.filter(pk__in=[a.pk for a in current]).update(
        leased_at=now - timedelta(seconds=150), expires_at=now + timedelta(seconds=20))
    return earlier, answers, current

