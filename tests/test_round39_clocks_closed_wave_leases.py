"""Closing a wave tells the lead how long its leased items stay out: "annotators can answer them until
the lease expires (at most N min)". The annotation page keeps renewing those leases after the close
(its renewal names every unanswered item it shows, whatever their wave's state), so they stay leased
for up to LONGTAIL_LEASE_RENEWAL_PERIODS lease periods, not one: the lead who waits the stated
minutes and plans the next wave finds the items still left out of it as leased."""
from datetime import timedelta

from django.utils import timezone

from labeling.annotations.models import Assignment
from labeling.projects.models import Membership
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, api_as, ask_batch, make_open_wave, short_lease_project

SLUG = "clocks-close"
LEASE = 60  # seconds: the note says "at most 1 min"


def test_a_closed_waves_lease_is_not_renewed_past_the_bound_the_close_note_states(
        project_factory, settings, make_user):
    project = short_lease_project(project_factory, settings, SLUG, lease_seconds=LEASE, renewal_periods=4)
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, _ = make_open_wave(project, 4)
    batch = ask_batch(ann, SLUG)
    held = [row["assignment"] for row in batch["items"]]
    assert len(held) == 2

    closed = api_as(lead).post(f"/api/projects/{SLUG}/waves/1/close/", {}, format="json")
    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert body["live_leases"] == 2
    assert "until the lease expires (at most 1 min)" in body["leases_note"], body["leases_note"]

    # 50 s later (the clock moved back on the stored times): the annotator is still at work in the page,
    # whose timer renews the items it shows.
    shift = timedelta(seconds=50)
    Wave.objects.filter(pk=wave.pk).update(closed_at=timezone.now() - shift)
    for a in Assignment.objects.filter(pk__in=held):
        Assignment.objects.filter(pk=a.pk).update(leased_at=a.leased_at - shift, expires_at=a.expires_at - shift)
    renewed = api_as(ann).post(f"/api/projects/{SLUG}/batches/renew/", {"assignments": held, "extend": True},
                               format="json")
    assert renewed.status_code == 200, renewed.content

    closed_at = Wave.objects.get(pk=wave.pk).closed_at
    bound = closed_at + timedelta(seconds=LEASE)  # "at most 1 min" after the close
    latest = max(Assignment.objects.filter(pk__in=held, state=Assignment.LEASED).values_list("expires_at", flat=True))
    assert latest <= bound, (
        f"the close said the leases end at most {LEASE} s after it, yet a renewal moved them to "
        f"{(latest - closed_at).total_seconds():.0f} s after the close")
