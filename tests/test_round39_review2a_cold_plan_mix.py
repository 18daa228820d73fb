"""A cold-start plan waiting behind an open wave, and a change to a setting that does not shape it.

A cold start draws by the cold-start mix (rules, label names, diversity), never by the model's
strategy mix (learner.planning.plan._mix), so changing the strategy mix (say, ahead of the first
model) shapes no cold-start plan. The rules are recorded for a cold-start plan alone for the same
reason (labeling.waves.pool.plan_settings). Yet the waiting cold-start plan is treated as planned
under changed settings: a lead opening it is refused and told to plan again, and with a broker it
is thrown away and another sample drawn. PostgreSQL, the real planner, the API as a lead calls it."""
import pytest

from labeling.projects.models import Membership
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, api_as
from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def test_a_model_mix_change_does_not_stop_a_waiting_cold_start_plan_from_opening(project_factory, make_user):
    project, _ = build_project(project_factory, slug="coldmix", n_items=200, n_labeled=0, wave_size=20,
                               double_label_share=0.0, batch_size=5)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    api = api_as(lead)
    assert api.post("/api/projects/coldmix/waves/plan/", format="json").json()["state"] == "open"
    waiting = api.post("/api/projects/coldmix/waves/plan/", format="json").json()
    assert waiting["state"] == "planned" and waiting["number"] == 2
    assert Wave.objects.get(project=project, number=2).cold_start

    # The re-plan the change queues has not run yet (no worker has taken it): the lead opens first.
    mix = {name: share for name, share in project.strategy_mix.items()}
    first, second = sorted(mix)[:2]
    mix[first], mix[second] = mix[second], mix[first]
    if mix == project.strategy_mix:
        mix[first] = round(mix[first] + 0.05, 6)
        mix[second] = round(mix[second] - 0.05, 6)
    changed = api.patch("/api/projects/coldmix/", {"strategy_mix": mix}, format="json")
    assert changed.status_code == 200, changed.content

    assert api.post("/api/projects/coldmix/waves/1/close/", {}, format="json").status_code == 200
    opened = api.post("/api/projects/coldmix/waves/2/open/")
    assert opened.status_code == 200, (
        "the waiting cold-start wave 2 was refused after a change to the model's strategy mix, which a cold "
        f"start does not draw by: {opened.content.decode()}")
