"""The database keeps every item's metadata a JSON object (after 0008 rewrote those that were not):
a CHECK constraint, jsonb_typeof on PostgreSQL and json_type on SQLite (labeling.items.json_object).
A migration of its own: PostgreSQL refuses to alter a table in the transaction that updated its
rows while their deferred foreign key checks are pending."""

from django.db import migrations, models

import labeling.items.json_object


class Migration(migrations.Migration):
    dependencies = [("items", "0008_item_metadata_objects")]

    operations = [
        migrations.AddConstraint(
            model_name="item",
            constraint=models.CheckConstraint(
                condition=labeling.items.json_object.JsonIsObject("metadata"), name="item_metadata_is_object",
                violation_error_message="An item's metadata must be a JSON object of named fields.",
            ),
        ),
    ]
