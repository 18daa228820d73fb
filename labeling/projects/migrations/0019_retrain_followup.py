"""A retrain asked for while one runs past reading the labels is recorded on the project and runs
as one follow-up when that retrain ends (labeling.loop.triggers, labeling.loop.pipeline)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0018_max_text_chars_default"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="retrain_followup",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
    ]
