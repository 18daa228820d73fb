"""After the cold start no strategy of a wave reads the rules' matches: the rules draw is a cold-start
strategy that a lead cannot put in the mix (``lead_settable=False``), and the default mix (rare,
uncertainty, diversity) has no rules share. Yet every plan matches every enabled rule against every
embedded item (labeled ones included) under the project's row lock (labeling.waves.pool.
planner_snapshot): about 0.8 s per 100,000 items with four rules on this machine, so on a pool of a
million items each later wave spends up to LONGTAIL_RULE_TIME_BUDGET_SECONDS (10 s) on matching
nobody reads, and its report and the log then warn that rule matching was cut short, for a wave the
rules had no part in."""
import pytest

from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, api_as
from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_a_wave_planned_without_a_rules_share_does_not_match_rules(project_factory, make_user, settings,
                                                                   eager_celery,  # noqa: F811
                                                                   django_capture_on_commit_callbacks):
    project, _ = build_project(project_factory, slug="laterrules", n_items=300, n_labeled=60, wave_size=40,
                               double_label_share=0.0)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    fraud = project.labels.get(name="fraud")
    assert api_as(lead).post("/api/projects/laterrules/rules/", {"label": fraud.pk, "kind": "keyword",
                                                                 "pattern": "fraud"}, format="json").status_code == 201
    settings.LONGTAIL_RULE_TIME_BUDGET_SECONDS = 1e-9  # what a pool too large for the budget gives

    retrain(project, django_capture_on_commit_callbacks)  # trains a model, then plans and opens wave 1 with it
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    assert wave.model_version is not None and not wave.cold_start
    assert "rules" not in wave.report["strategy_mix"], wave.report["strategy_mix"]
    assert not WaveItem.objects.filter(wave=wave, strategy="rules").exists()
    timings = wave.report.get("timings") or {}
    # today: the rules were matched anyway, and the wave's report warns they were cut short
    assert "rules_partial" not in timings, timings["rules_partial"]
