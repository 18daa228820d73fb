"""A precision / recall target on a coarse label governs the model's fallbacks to it
(metrics.hierarchy.coarse_thresholds), so the dashboard's thresholds table shows it: a row marked as a
coarse label's, with its threshold, verdict and why (docs/estimates.md, "Thresholds that hold")."""
import pytest

from labeling.modeling.versions import active_model
from labeling.projects import dashboard
from labeling.projects.models import Label, Membership
from tests import test_loop_helpers as helpers

from .test_browse_api import api_as

pytestmark = pytest.mark.django_db
eager_celery = helpers.eager_celery


def test_a_coarse_target_shows_in_the_thresholds_table_after_a_retrain(
        project_factory, make_user, eager_celery, django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="coarse37", n_items=300, n_labeled=90)
    security = Label.objects.create(project=project, name="Security", precision_target=0.9, recall_target=0.9)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=security)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == run.DONE, run.error
    version = active_model(project)
    coarse = {row["label"]: row for row in version.metrics["hierarchy"]["coarse_thresholds"]}
    assert coarse["Security"]["target"] == {"precision": 0.9, "recall": 0.9}
    security.name = "Safety"  # renamed since: the table names it as it is called now
    security.save()
    lead = make_user("lead37")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    table = api_as(lead).get(f"/api/projects/{project.slug}/dashboard/").json()["thresholds"]
    rows = [row for row in table["rows"] if row["applies_to"] == dashboard.FALLBACKS]
    assert [row["label"] for row in rows] == ["Safety"], table["rows"]
    row = rows[0]
    assert row["target"] == "precision ≥ 0.9, recall ≥ 0.9"
    assert row["threshold"] == coarse["Security"]["threshold"]
    assert row["why"] and row["met"] in ("yes", "no", "—"), row
    # the same columns as the fine labels' rows, which say what their threshold holds back
    fine = [r for r in table["rows"] if r["applies_to"] != dashboard.FALLBACKS]
    assert fine and all(list(r) == list(row) for r in fine), (list(fine[0]), list(row))
    assert {r["label"] for r in fine} >= {"billing", "login", "fraud"}
    # a coarse label without a target has no row: its threshold holds nothing back
    assert "billing" not in {r["label"] for r in rows}
