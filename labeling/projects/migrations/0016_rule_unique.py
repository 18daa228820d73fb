"""One rule per (label, kind, pattern). Before this, "Add rule" clicked twice (or the same rule added
again later) stored the rule twice: a second row that changes nothing the rules apply, but shows twice
and has to be disabled or deleted twice. Of rules of one label that match alike (identical, or
keywords that differ only in case or in what matching folds away: learner.rules.rule_key) the
migration keeps one: an enabled one if any is (what the rules applied), else the oldest (lowest id);
the others are deleted (docs/operations.md, "Upgrades"). Nothing refers to a rule, so nothing else
changes."""
from django.db import migrations, models

from learner.rules import rule_key


def keep_one_of_identical_rules(apps, schema_editor):
    Rule = apps.get_model("projects", "Rule")
    kept: set[tuple] = set()
    duplicates = []
    # enabled first, then the oldest: the first of each (label, kind, what it matches) is kept
    for pk, label_id, kind, pattern in (Rule.objects.order_by("label_id", "kind", "-enabled", "pk")
                                        .values_list("pk", "label_id", "kind", "pattern")):
        key = (label_id, kind, rule_key(kind, pattern))
        if key in kept:
            duplicates.append(pk)
        kept.add(key)
    Rule.objects.filter(pk__in=duplicates).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0015_overlap_ceiling"),
    ]

    operations = [
        migrations.RunPython(keep_one_of_identical_rules, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="rule",
            constraint=models.UniqueConstraint(fields=("label", "kind", "pattern"), name="rule_unique"),
        ),
    ]
