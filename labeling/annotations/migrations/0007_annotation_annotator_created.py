from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0006_drop_leased_expiry_index_lease'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='annotation',
            index=models.Index(fields=['annotator', 'created_at'], name='annotation_annotator_created'),
        ),
        # (annotator, state) with expires_at after them: the lease reads the annotator's live leases
        # and their leases ended lately by it, with no row fetched to check the time.
        migrations.AddIndex(
            model_name='assignment',
            index=models.Index(fields=['annotator', 'state', 'expires_at'], name='assignment_annotator_state_exp'),
        ),
        migrations.RemoveIndex(
            model_name='assignment',
            name='assignment_annotator_state',
        ),
    ]
