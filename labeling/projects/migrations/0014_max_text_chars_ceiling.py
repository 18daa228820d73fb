"""Lower a stored "Maximum text length" above 100,000 characters (labeling.projects.models.
MAX_TEXT_CHARS_CEILING, frozen here) to it. Before the ceiling a lead could save any value; a project
saved with 2,000,000 would otherwise have every later settings save refused for a field its lead did
not touch. Items already stored are left as they are (they were written, so they fit); only later
imports use the lowered limit, which the importer applied anyway."""

from django.db import migrations

CEILING = 100_000


def lower_to_ceiling(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    Project.objects.filter(max_text_chars__gt=CEILING).update(max_text_chars=CEILING)


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0013_class_weights_inverse_default"),
    ]

    operations = [
        migrations.RunPython(lower_to_ceiling, migrations.RunPython.noop),
    ]
