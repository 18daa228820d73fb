"""A top-level label with no fine labels under it, in a project that has a coarse → fine part: its
precision target governs its own predictions (its row on the dashboard's thresholds table). No
prediction ever falls back to it (it has no fine label to fall back from), so the table must not
also show it as a coarse label "fallbacks to it" row saying that no tuning row is predicted as it,
beside its own row that kept hundreds of them and met the target."""
import pytest

from labeling.modeling.versions import active_model
from labeling.projects import dashboard
from labeling.projects.models import Label, Membership
from tests import test_loop_helpers as helpers

from .test_browse_api import api_as

pytestmark = pytest.mark.django_db
eager_celery = helpers.eager_celery


def test_a_leaf_top_level_labels_target_has_no_phantom_fallback_row(
        project_factory, make_user, eager_celery, django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="leaf39", n_items=300, n_labeled=120)
    security = Label.objects.create(project=project, name="Security")
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=security)
    Label.objects.filter(project=project, name="billing").update(precision_target=0.8)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == run.DONE, run.error
    version = active_model(project)
    fine = {row["label"]: row for row in version.metrics["thresholds"]}
    # billing's own predictions are judged, on rows that did not choose the threshold
    assert fine["billing"]["target"] == {"precision": 0.8}
    assert fine["billing"]["held_out_kept"] > 0, fine["billing"]
    lead = make_user("lead39")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    table = api_as(lead).get(f"/api/projects/{project.slug}/dashboard/").json()["thresholds"]
    billing = [row for row in table["rows"] if row["label"] == "billing"]
    # One row: billing's predictions. A second "fallbacks to it (coarse)" row describes fallbacks that
    # cannot happen and says "not estimable: no tuning row predicted as 'billing'".
    assert [row["applies_to"] for row in billing] == ["its predictions"], billing
    assert dashboard.FALLBACKS not in {row["applies_to"] for row in billing}
