from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """A deleted user's answered assignments stay, with no annotator: their answers keep the wave
    pick that brought them. Dropping NOT NULL rewrites no row."""

    dependencies = [
        ('annotations', '0007_annotation_annotator_created'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='assignment',
            name='annotator',
            field=models.ForeignKey(blank=True, null=True, on_delete=models.deletion.SET_NULL,
                                    related_name='assignments', to=settings.AUTH_USER_MODEL),
        ),
    ]
