"""The migration that adds ModelVersion.pruned_at: versions stored before are not pruned (NULL), and
a process of the previous release, whose INSERT does not name the column, still stores versions
after it ran (the column's database default), as during a rolling upgrade."""
import pytest
from django.db import connection

from tests.migration_steps import migration_step

BEFORE, AFTER = "0006_relative_artifact_paths", "0007_modelversion_pruned_at"


def columns() -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, "learner_modelversion")}


@pytest.mark.django_db(transaction=True)
def test_old_rows_are_not_pruned_and_the_previous_release_still_inserts():
    from labeling.modeling.models import ModelVersion as CurrentModelVersion

    with migration_step("learner", BEFORE, AFTER) as step:
        Project = step.old_apps.get_model("projects", "Project")
        OldModelVersion = step.old_apps.get_model("learner", "ModelVersion")
        project = Project.objects.create(slug="upgrade", name="Upgrade")
        before = OldModelVersion.objects.create(project_id=project.pk, number=1, state="retired")
        assert "pruned_at" not in columns()

        step.migrate()

        assert "pruned_at" in columns()
        # the previous release's model, still running on a worker while the upgrade rolls out
        during = OldModelVersion.objects.create(project_id=project.pk, number=2, state="training")
        stored = dict(CurrentModelVersion.objects.filter(project_id=project.pk).values_list("pk", "pruned_at"))
        assert stored == {before.pk: None, during.pk: None}
