"""The migration that adds ModelVersion.label_ids fills it for versions trained before: each class
(and its coarse parent) by the label of that name now; a class whose label is gone gets no id."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("learner", "0004_browse_indexes")]
AFTER = [("learner", "0005_modelversion_label_ids")]


@pytest.mark.django_db(transaction=True)
def test_label_ids_are_filled_by_name_for_versions_trained_before():
    executor = MigrationExecutor(connection)
    # every other app at its latest state, the learner app just before the field
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "learner"]
    executor.migrate(BEFORE)
    try:
        apps = executor.loader.project_state(others + BEFORE).apps
        Project, Label = apps.get_model("projects", "Project"), apps.get_model("projects", "Label")
        ModelVersion = apps.get_model("learner", "ModelVersion")
        project = Project.objects.create(slug="mig-ids", name="Mig")
        money = Label.objects.create(project=project, name="money")
        billing = Label.objects.create(project=project, name="billing", parent=money)
        login = Label.objects.create(project=project, name="login")
        ModelVersion.objects.create(project=project, number=1, state="retired", label_map=["billing", "gone", "login"])
        ModelVersion.objects.create(project=project, number=2, state="failed", label_map=[])
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(others + AFTER).apps
        ModelVersion = apps.get_model("learner", "ModelVersion")
        got = dict(ModelVersion.objects.filter(project__slug="mig-ids").values_list("number", "label_ids"))
        assert got == {1: {"billing": billing.pk, "login": login.pk, "money": money.pk}, 2: {}}
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
