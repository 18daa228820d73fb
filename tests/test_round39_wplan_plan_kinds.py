"""Which settings make a waiting plan stale depends on the kind of plan (labeling.waves.pool.plan_settings):
a cold start drew by the cold-start mix and the rules, a model's plan by the strategy mix and band and
never by the rules. A lead opening a waiting plan is refused only for a change to what shaped it, whatever
model is active now; and a plan kept because its re-plan failed opens only while the settings are still
those the re-plan failed under. PostgreSQL, the real planner, training and re-plan, the API as a lead calls it."""
import pytest

from labeling.modeling.scores import score_version
from labeling.modeling.versions import activate_version, train_version
from labeling.projects.models import Membership, Project, Rule
from labeling.waves.discard import stale_plans
from labeling.waves.models import Wave
from labeling.waves.replan import replan_waiting

from .test_annotation_helpers import add_member, api_as
from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def _lead_api(project, make_user):
    return api_as(add_member(make_user, project, "lena", role=Membership.LEAD))


def _open_then_wait(api, slug):
    assert api.post(f"/api/projects/{slug}/waves/plan/", format="json").json()["state"] == "open"
    assert api.post(f"/api/projects/{slug}/waves/plan/", format="json").json()["state"] == "planned"
    return Wave.objects.get(project__slug=slug, number=2)


def _activate_a_model(project):
    version = train_version(project)
    score_version(version)
    activate_version(version)
    return version


def test_a_rule_added_after_the_first_model_still_stops_the_waiting_cold_start_plan(project_factory, make_user):
    project, _ = build_project(project_factory, slug="coldrule", n_items=240, n_labeled=60, wave_size=20,
                               double_label_share=0.0, batch_size=5)
    api = _lead_api(project, make_user)
    waiting = _open_then_wait(api, "coldrule")
    assert waiting.cold_start
    _activate_a_model(project)
    Rule.objects.create(project=project, label=project.labels.get(name="fraud"), kind="keyword", pattern="fraud")

    assert api.post("/api/projects/coldrule/waves/1/close/", {}, format="json").status_code == 200
    opened = api.post("/api/projects/coldrule/waves/2/open/")
    assert opened.status_code == 409, opened.content
    assert "(rules changed since)" in opened.json()["detail"]


def test_a_cold_start_plan_recorded_with_the_mix_is_not_stale_for_a_mix_change(project_factory, make_user):
    """A cold-start plan stored before plans recorded by kind holds strategy_mix and band: they shaped
    nothing in it, so changing them leaves it as it is (no discard, no refusal)."""
    project, _ = build_project(project_factory, slug="coldold", n_items=200, n_labeled=0, wave_size=20,
                               double_label_share=0.0, batch_size=5)
    api = _lead_api(project, make_user)
    waiting = _open_then_wait(api, "coldold")
    old = {**waiting.report["planned_under"], "strategy_mix": dict(project.strategy_mix),
           "band_low": project.band_low, "band_high": project.band_high}
    Wave.objects.filter(pk=waiting.pk).update(report={**waiting.report, "planned_under": old})
    Project.objects.filter(pk=project.pk).update(band_low=0.2, band_high=0.6,
                                                 strategy_mix={"band": 0.5, "diversity": 0.5})
    project.refresh_from_db()
    assert stale_plans(project, None) == []
    assert api.post("/api/projects/coldold/waves/1/close/", {}, format="json").status_code == 200
    assert api.post("/api/projects/coldold/waves/2/open/").status_code == 200


def test_a_models_plan_is_stale_for_its_mix_and_not_for_the_rules(project_factory, make_user):
    project, _ = build_project(project_factory, slug="modelplan", n_items=240, n_labeled=60, wave_size=20,
                               double_label_share=0.0, batch_size=5)
    version = _activate_a_model(project)
    api = _lead_api(project, make_user)
    waiting = _open_then_wait(api, "modelplan")
    assert not waiting.cold_start and "rules" not in {k for k, v in waiting.report["planned_under"].items() if v}

    Rule.objects.create(project=project, label=project.labels.get(name="fraud"), kind="keyword", pattern="fraud")
    project.refresh_from_db()
    assert stale_plans(project, version) == []

    mix = {**project.strategy_mix}
    first, second = sorted(k for k, v in mix.items() if v > 0)[:2]
    mix[first], mix[second] = round(mix[first] + 0.05, 6), round(mix[second] - 0.05, 6)
    Project.objects.filter(pk=project.pk).update(strategy_mix=mix)
    assert api.post("/api/projects/modelplan/waves/1/close/", {}, format="json").status_code == 200
    opened = api.post("/api/projects/modelplan/waves/2/open/")
    assert opened.status_code == 409 and "(strategy_mix changed since)" in opened.json()["detail"], opened.content


def test_a_plan_kept_by_a_failed_replan_opens_after_a_budget_only_change(project_factory, make_user):
    """The flag no longer exempts the plan once the settings moved on from those its re-plan failed
    under; the check that then applies refuses only what shaped the plan, never the budget alone."""
    project, _ = build_project(project_factory, slug="keptbudget", n_items=240, n_labeled=0, wave_size=20,
                               double_label_share=0.0, batch_size=5, label_budget=100)
    api = _lead_api(project, make_user)
    _open_then_wait(api, "keptbudget")
    Project.objects.filter(pk=project.pk).update(label_budget=20)  # wave 1 holds it all: the re-plan fails
    kept = replan_waiting(project.pk)
    assert kept is not None and kept.number == 2 and kept.report["replan_failed"]["settings"]["label_budget"] == 20
    Project.objects.filter(pk=project.pk).update(label_budget=150)

    assert api.post("/api/projects/keptbudget/waves/1/close/", {}, format="json").status_code == 200
    opened = api.post("/api/projects/keptbudget/waves/2/open/")
    assert opened.status_code == 200, opened.content
