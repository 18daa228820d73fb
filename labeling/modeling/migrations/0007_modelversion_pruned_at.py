"""ModelVersion.pruned_at: when retention (``manage.py prune_models``) removed the version's scores
and files. NULL for every version until then; the column's database default is NULL as well, so
the previous release's processes, which do not name the column, still insert versions while an
upgrade rolls out."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("learner", "0006_relative_artifact_paths"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="pruned_at",
            field=models.DateTimeField(blank=True, db_default=None, null=True),
        ),
    ]
