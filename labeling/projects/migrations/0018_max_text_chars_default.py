"""A new project's max_text_chars defaults to LONGTAIL_MAX_TEXT_CHARS, read when the project is made
(README, docs/intake.md). Only the default changes: Django keeps defaults out of the database (the
SQL is a no-op), so no existing project's value is touched."""
from django.db import migrations, models

import labeling.projects.models


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0017_names_composed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="project",
            name="max_text_chars",
            field=models.PositiveIntegerField(default=labeling.projects.models.default_max_text_chars),
        ),
    ]
