"""A waiting plan whose re-plan failed once keeps report["replan_failed"] for good, and from then on
a lead's Open no longer checks it against settings changed later.

docs/loop.md: "A lead who opens by hand a plan made under settings changed since (its re-plan not run
yet, or one the broker refused) is refused, naming the fields". The flag is there so that a plan the
loop could not replace under *those* settings may still open; a later change (here the quotas) is
another one the plan never saw. PostgreSQL, the real planner and re-plan, the API as a lead calls it."""
import pytest

from labeling.projects.models import Membership, Project, Source
from labeling.waves.models import Wave
from labeling.waves.replan import replan_waiting

from .test_annotation_helpers import add_member, api_as
from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def test_a_plan_kept_once_opens_under_quotas_changed_after(project_factory, make_user):
    project, _ = build_project(project_factory, slug="sticky", n_items=240, n_labeled=0, wave_size=20,
                               double_label_share=0.0, batch_size=5, label_budget=100)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    api = api_as(lead)
    assert api.post("/api/projects/sticky/waves/plan/", format="json").json()["state"] == "open"
    assert api.post("/api/projects/sticky/waves/plan/", format="json").json()["state"] == "planned"

    # The budget is lowered to what wave 1 holds: re-planning wave 2 finds nothing left, so it waits as it was.
    Project.objects.filter(pk=project.pk).update(label_budget=20)
    kept = replan_waiting(project.pk)
    assert kept is not None and kept.number == 2 and kept.report.get("replan_failed"), kept and kept.report
    # The lead puts the budget back, then moves every slot to email; the re-plan that queues has not run yet.
    Project.objects.filter(pk=project.pk).update(label_budget=100)
    Source.objects.filter(project=project, name="email").update(quota=1.0)
    Source.objects.filter(project=project, name="chat").update(quota=0.0)

    assert api.post("/api/projects/sticky/waves/1/close/", {}, format="json").status_code == 200
    opened = api.post("/api/projects/sticky/waves/2/open/")
    chat = Wave.objects.get(project=project, number=2).picks.filter(item__source__name="chat").count()
    assert opened.status_code == 409, (
        f"wave 2, planned under email 0.5 / chat 0.5, opened ({opened.status_code}) with {chat} chat items after "
        "the quotas became email 1.0 / chat 0.0: a re-plan that failed earlier, under other settings, let it through")
