"""The migration that adds ReviewTask.model_version fills it from the detail of tasks routed before."""
import pytest

from tests.migration_steps import migration_step


@pytest.mark.django_db(transaction=True)
def test_model_version_is_backfilled_from_detail():
    # every other app at its latest state, annotations just before the field
    with migration_step("annotations", "0003_review_lead_request", "0004_reviewtask_model_version_review") as step:
        apps = step.old_apps
        Project, Item = apps.get_model("projects", "Project"), apps.get_model("items", "Item")
        ReviewTask = apps.get_model("annotations", "ReviewTask")
        project = Project.objects.create(slug="mig", name="Mig")
        items = [Item.objects.create(project=project, text=f"t{i}", text_hash=f"h{i}") for i in range(3)]
        for item, detail in zip(items, [{"model_version": 4, "prob": 0.4}, {"model_version": "x"}, {}], strict=True):
            ReviewTask.objects.create(project=project, item=item, reason="low_confidence", detail=detail)
        apps = step.migrate()
        ReviewTask = apps.get_model("annotations", "ReviewTask")
        got = dict(ReviewTask.objects.values_list("item__text", "model_version"))
        assert got == {"t0": 4, "t1": None, "t2": None}
