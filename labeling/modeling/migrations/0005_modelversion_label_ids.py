"""ModelVersion.label_ids: the project label each trained class name stands for. Versions trained
before it are filled by name from the labels as they are now (the best identity there is: until
now every reader matched a class to the label of the same name)."""
from django.db import migrations, models


def fill_by_name(apps, schema_editor):
    ModelVersion = apps.get_model("learner", "ModelVersion")
    Label = apps.get_model("projects", "Label")
    by_project: dict[int, dict[str, tuple[int, str | None]]] = {}
    for version in ModelVersion.objects.exclude(label_map=[]).only("pk", "project_id", "label_map").iterator():
        labels = by_project.get(version.project_id)
        if labels is None:
            labels = by_project[version.project_id] = {
                name: (pk, parent) for pk, name, parent in
                Label.objects.filter(project_id=version.project_id).values_list("pk", "name", "parent__name")}
        names = [str(name) for name in version.label_map or []]
        # a class's coarse parent too: a coarse → fine model answers with it on fallback
        names += [labels[name][1] for name in names if name in labels and labels[name][1]]
        ModelVersion.objects.filter(pk=version.pk).update(
            label_ids={name: labels[name][0] for name in names if name in labels})


class Migration(migrations.Migration):

    dependencies = [
        ("learner", "0004_browse_indexes"),
        ("projects", "0011_project_calibration_matched"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="label_ids",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(fill_by_name, migrations.RunPython.noop),
    ]
