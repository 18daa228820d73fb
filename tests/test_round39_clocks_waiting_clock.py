"""An annotator who finds nothing to lease is told when the other annotators' leases come back:
"unanswered leases come back at 12:10 UTC". The time is cut to the minute (strftime %H:%M), so
it names a moment up to 59 s before the leases end, and at 12:10:30 the page still tells them
to come back at 12:10, a time already past, while nothing can be leased."""
import re
import time
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from labeling.annotations.models import Assignment

from .test_annotation_helpers import add_member, ask_batch, make_open_wave, short_lease_project

SLUG = "clocks-wait"


def test_the_time_leases_come_back_is_not_already_past_when_it_is_said(project_factory, settings, make_user):
    project = short_lease_project(project_factory, settings, SLUG, lease_seconds=600)
    ann = add_member(make_user, project, "ann")
    bob = add_member(make_user, project, "bob")
    make_open_wave(project, 2)
    held = [row["assignment"] for row in ask_batch(bob, SLUG)["items"]]
    assert len(held) == 2
    if timezone.now().second >= 50:  # keep "now" and the leases' end inside one minute
        time.sleep(61 - timezone.now().second)
    ends = timezone.now() + timedelta(seconds=5)
    Assignment.objects.filter(pk__in=held).update(expires_at=ends)

    asked_at = timezone.now()
    waiting = ask_batch(ann, SLUG)["waiting"]
    assert waiting["reason"] == "leased_by_others", waiting
    assert datetime.fromisoformat(waiting["back_at"]) == ends
    hh, mm, ss = re.search(r"come back at (\d{2}):(\d{2})(?::(\d{2}))? UTC", waiting["message"]).groups()
    said = asked_at.astimezone(UTC).replace(hour=int(hh), minute=int(mm), second=int(ss or 0), microsecond=0)
    # Said to the minute (rounded up) or to the second: either names a moment no earlier than the end.
    assert said >= ends.replace(microsecond=0), (
        f"asked at {asked_at:%H:%M:%S}, told the leases come back at {said:%H:%M} UTC; they end at {ends:%H:%M:%S}")
