"""The open wave's progress has two implementations. The lead's (labeling.waves.selectors.
wave_progress, GET waves/current/) counts the answers that count for each pick (``_COUNTED``: a
lead's adjudication completes the pick), the one rule the loop closes waves by. The annotator's
(labeling.annotations.selectors.wave_progress, in every batches/ reply and the annotate page's
"Wave" bar) sums the picks' slot counters, which an adjudication does not move. After a lead
decides an item of the open wave the two pages show different progress for the same wave."""
import pytest

from labeling.annotations.models import ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.projects.models import Membership
from labeling.waves import selectors

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def test_the_annotator_and_the_lead_see_the_same_wave_progress(project_factory, make_user):
    project = project_factory("twoprogress", labels=("positive", "negative"))
    label = project.labels.first()
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, (decided, _waiting) = make_open_wave(project, 2, shuffle=False)
    # The lead sends one item of the open wave to review (item browser, bulk "review") and labels it.
    task = ReviewTask.objects.create(project=project, item=decided, reason=ReviewTask.LEAD_REQUEST)
    resolve_review(project, lead, task_id=task.pk, label_id=label.pk)

    lead_view = api_as(lead).get("/api/projects/twoprogress/waves/current/").json()
    assert lead_view["progress"]["done"] == 1  # the loop's rule: the adjudicated pick is complete
    assert selectors.wave_progress(wave)["answers_given"] == 1

    reply = api_as(ann).post("/api/projects/twoprogress/batches/", {"size": 10}, format="json").json()
    # today: {"waves": [1], "needed": 2, "done": 0, "leased": ...}: the annotator's bar says 0 of 2
    assert reply["progress"]["done"] == 1, reply["progress"]
