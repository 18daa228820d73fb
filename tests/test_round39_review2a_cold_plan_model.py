"""A cold-start plan waiting when the first model becomes active, opened by a lead before the loop
re-planned it (the retrain's planning step not run yet, or a follow-up retrain queued instead).

docs/loop.md: a lead opening by hand a plan made under settings changed since is refused, naming the
fields; "A plan made with another model than the active one opens as it was made." No setting and no
rule changed here: only a model became active. PostgreSQL, the real training, scoring and activation,
the API as a lead calls it."""
import pytest

from labeling.modeling.scores import score_version
from labeling.modeling.versions import activate_version, train_version
from labeling.projects.models import Membership, Rule
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, api_as
from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def test_a_cold_start_plan_is_not_refused_for_rules_nobody_changed(project_factory, make_user):
    project, _ = build_project(project_factory, slug="coldmodel", n_items=240, n_labeled=60, wave_size=20,
                               double_label_share=0.0, batch_size=5)
    Rule.objects.create(project=project, label=project.labels.get(name="fraud"), kind="keyword", pattern="fraud")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    api = api_as(lead)
    assert api.post("/api/projects/coldmodel/waves/plan/", format="json").json()["state"] == "open"
    assert api.post("/api/projects/coldmodel/waves/plan/", format="json").json()["state"] == "planned"
    assert Wave.objects.get(project=project, number=2).cold_start
    rules_before = list(Rule.objects.filter(project=project).values_list("pk", "pattern", "enabled"))

    # The first model becomes active (what the retrain's scoring step does); its planning step has not run.
    version = train_version(project)
    score_version(version)
    activate_version(version)

    assert api.post("/api/projects/coldmodel/waves/1/close/", {}, format="json").status_code == 200
    opened = api.post("/api/projects/coldmodel/waves/2/open/")
    assert list(Rule.objects.filter(project=project).values_list("pk", "pattern", "enabled")) == rules_before
    assert opened.status_code == 200 or "rules" not in opened.json().get("detail", ""), (
        "no rule changed, yet the waiting cold-start wave was refused as planned under changed rules: "
        f"{opened.content.decode()}")
