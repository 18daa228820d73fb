"""Closing a wave says its leased items come back "at most N min" later (one lease period). The two
other ways a lease is kept keep to that bound too: asking for a batch again (the page's Start in a
second tab, an API client polling) hands the held batch back without extending a closed wave's
leases past it, and a renewal does not take a closed wave's lapsed lease again once the bound has
passed (it reports it lapsed: an answer on it is still stored while its item is free). An open
wave's leases are renewed as before."""
import uuid
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.projects.models import Membership
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, api_as, ask_batch, make_open_wave, short_lease_project

LEASE = 60


def _setup(project_factory, settings, make_user, slug):
    project = short_lease_project(project_factory, settings, slug, lease_seconds=LEASE, renewal_periods=4)
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, _ = make_open_wave(project, 4)
    held = [row["assignment"] for row in ask_batch(ann, slug)["items"]]
    assert len(held) == 2
    return project, ann, lead, wave, held


def _close(lead, slug):
    closed = api_as(lead).post(f"/api/projects/{slug}/waves/1/close/", {}, format="json")
    assert closed.status_code == 200, closed.content
    assert "(at most 1 min)" in closed.json()["leases_note"]


def _move_back(wave, held, seconds):
    """The clock moved on ``seconds``: the stored times move back as much."""
    shift = timedelta(seconds=seconds)
    Wave.objects.filter(pk=wave.pk, closed_at__isnull=False).update(closed_at=F("closed_at") - shift)
    for a in Assignment.objects.filter(pk__in=held):
        Assignment.objects.filter(pk=a.pk).update(leased_at=a.leased_at - shift, expires_at=a.expires_at - shift)


def _renew(ann, slug, held):
    renewed = api_as(ann).post(f"/api/projects/{slug}/batches/renew/", {"assignments": held, "extend": True},
                               format="json")
    assert renewed.status_code == 200, renewed.content
    return renewed.json()


def test_asking_again_hands_a_closed_waves_batch_back_without_extending_it_past_the_bound(
        project_factory, settings, make_user):
    slug = "wclocks-again"
    project, ann, lead, wave, held = _setup(project_factory, settings, make_user, slug)
    _close(lead, slug)
    _move_back(wave, held, 50)

    again = ask_batch(ann, slug)
    assert [row["assignment"] for row in again["items"]] == held  # handed back, still answerable
    bound = Wave.objects.get(pk=wave.pk).closed_at + timedelta(seconds=LEASE)
    stored = dict(Assignment.objects.filter(pk__in=held).values_list("pk", "expires_at"))
    for row in again["items"]:
        said = datetime.fromisoformat(row["expires_at"].replace("Z", "+00:00"))
        assert stored[row["assignment"]] <= bound, "asking again extended a closed wave's lease past its bound"
        assert said == stored[row["assignment"]], "the batch's reply names another expiry than the one stored"
        assert said > timezone.now(), "the lease was cut short: it should last until the bound"


def test_a_closed_waves_lapsed_lease_is_not_taken_again_but_an_answer_on_it_is_still_stored(
        project_factory, settings, make_user):
    slug = "wclocks-lapsed"
    project, ann, lead, wave, held = _setup(project_factory, settings, make_user, slug)
    _close(lead, slug)
    _move_back(wave, held, LEASE + 10)  # the bound passed 10 s ago, the leases ran out with it

    body = _renew(ann, slug, held)
    assert sorted(lease["assignment"] for lease in body["lapsed"]) == sorted(held), body
    assert not body["held"] and not body["lost"], body
    assert not Assignment.objects.filter(pk__in=held, expires_at__gt=timezone.now()).exists(), (
        "a renewal took a closed wave's lease again past the bound the close stated")

    # The annotator was mid-answer: nothing is lost, the answer is stored on the lapsed lease.
    label = project.labels.first()
    answered = api_as(ann).post(f"/api/projects/{slug}/annotations/",
                                {"client_id": str(uuid.uuid4()), "assignment": held[0], "label": label.pk},
                                format="json")
    assert answered.status_code in (200, 201), answered.content
    assert Annotation.objects.filter(assignment_id=held[0], undone=False).exists()


def test_an_open_waves_leases_are_still_renewed_and_taken_again(project_factory, settings, make_user):
    slug = "wclocks-open"
    project, ann, lead, wave, held = _setup(project_factory, settings, make_user, slug)
    _move_back(wave, held, 50)
    body = _renew(ann, slug, held)
    assert sorted(lease["assignment"] for lease in body["held"]) == sorted(held), body
    latest = max(Assignment.objects.filter(pk__in=held).values_list("expires_at", flat=True))
    assert latest > timezone.now() + timedelta(seconds=LEASE - 5), "an open wave's lease was not extended"

    _move_back(wave, held, LEASE + 10)  # ran out 10 s ago: taken again (its slot is free)
    body = _renew(ann, slug, held)
    assert sorted(lease["assignment"] for lease in body["held"]) == sorted(held), body
