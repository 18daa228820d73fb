"""Lower a stored overlap above 10 (labeling.projects.overlap.MAX_OVERLAP, frozen here) to it.
Before the ceiling a lead could save up to 32,767; planning already uses at most 10, and a project
saved with more would otherwise have every later settings save refused for a field its lead did not
touch. Waves already planned keep the overlap they were planned with."""

from django.db import migrations

CEILING = 10


def lower_to_ceiling(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    Project.objects.filter(overlap__gt=CEILING).update(overlap=CEILING)


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0014_max_text_chars_ceiling"),
    ]

    operations = [
        migrations.RunPython(lower_to_ceiling, migrations.RunPython.noop),
    ]
