"""One top-level Other label per project. Before this, a second label could be ticked Other; the
annotation page's None-of-these button then named one of them, the server stored another, and the
page hid the second label's button. Projects that have two keep one: the label carrying the
none-of-these key 0 (what annotators pressing 0 stored), else the first in the page's order
(order, name, id); the others become ordinary labels again and keep their hotkeys."""
from django.db import migrations, models
from django.db.models import Q

NONE_KEY = "0"


def keep_one_other(apps, schema_editor):
    Label = apps.get_model("projects", "Label")
    others = Label.objects.filter(is_other=True, parent__isnull=True).order_by("project_id", "order", "name", "pk")
    by_project: dict[int, list] = {}
    for label in others:
        by_project.setdefault(label.project_id, []).append(label)
    for labels in by_project.values():
        if len(labels) < 2:
            continue
        kept = next((label for label in labels if label.hotkey == NONE_KEY), labels[0])
        for label in labels:
            if label.pk != kept.pk:
                # "0" belongs to the Other label alone (hotkeys.hotkey_error)
                label.hotkey = "" if label.hotkey == NONE_KEY else label.hotkey
                label.is_other = False
                label.save(update_fields=["is_other", "hotkey"])


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0011_project_calibration_matched"),
    ]

    operations = [
        migrations.RunPython(keep_one_other, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="label",
            constraint=models.UniqueConstraint(
                condition=Q(is_other=True, parent__isnull=True), fields=("project",), name="label_one_other",
                violation_error_message="A project has one top-level Other label (the answer “none of these”); "
                                        "untick Other on the current one first."),
        ),
    ]
