"""The migration that adds ModelVersion.label_ids fills it for versions trained before: each class
(and its coarse parent) by the label of that name now; a class whose label is gone gets no id."""
import pytest

from tests.migration_steps import migration_step


@pytest.mark.django_db(transaction=True)
def test_label_ids_are_filled_by_name_for_versions_trained_before():
    # every other app at its latest state, the learner app just before the field
    with migration_step("learner", "0004_browse_indexes", "0005_modelversion_label_ids") as step:
        apps = step.old_apps
        Project, Label = apps.get_model("projects", "Project"), apps.get_model("projects", "Label")
        ModelVersion = apps.get_model("learner", "ModelVersion")
        project = Project.objects.create(slug="mig-ids", name="Mig")
        money = Label.objects.create(project=project, name="money")
        billing = Label.objects.create(project=project, name="billing", parent=money)
        login = Label.objects.create(project=project, name="login")
        ModelVersion.objects.create(project=project, number=1, state="retired", label_map=["billing", "gone", "login"])
        ModelVersion.objects.create(project=project, number=2, state="failed", label_map=[])
        apps = step.migrate()
        ModelVersion = apps.get_model("learner", "ModelVersion")
        got = dict(ModelVersion.objects.filter(project__slug="mig-ids").values_list("number", "label_ids"))
        assert got == {1: {"billing": billing.pk, "login": login.pk, "money": money.pk}, 2: {}}
