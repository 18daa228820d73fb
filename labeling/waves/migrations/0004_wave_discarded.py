from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('waves', '0003_slot_counts_lease'),
    ]

    operations = [
        migrations.AlterField(
            model_name='wave',
            name='state',
            field=models.CharField(choices=[('planned', 'planned'), ('open', 'open'), ('closed', 'closed'), ('discarded', 'discarded')], default='planned', max_length=10),
        ),
    ]
