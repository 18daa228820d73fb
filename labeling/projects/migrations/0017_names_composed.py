"""Label and source names stored composed (Unicode NFC), as every path now stores them
(labeling.projects.label_names.composed_name): a name created from decomposed text ("O" + U+0308,
Hangul as jamo, as macOS hands text over) was stored as sent, so a file naming it as typed was refused
as a look-alike, and the annotation page's filter missed it. A name whose composed form is already
another label's (or source's) name in the same project is left as stored and reported (the unique
name would refuse the update); such a pair can only have been stored before names were compared as
look-alikes, and a lead renames one of them. Reversing leaves the names composed (the same text)."""
import sys
import unicodedata

from django.db import migrations


def _compose(model, kind: str) -> None:
    # Only the names NFC changes are read into memory; a project's names are few.
    rows = [(pk, project_id, name) for pk, project_id, name in model.objects.values_list("pk", "project_id", "name")
            if unicodedata.normalize("NFC", name) != name]
    for pk, project_id, name in rows:
        composed = unicodedata.normalize("NFC", name)
        if model.objects.filter(project_id=project_id, name=composed).exists():
            sys.stdout.write(f"\n  {kind} {pk} of project {project_id} left decomposed: {composed!r} is the name of "
                             f"another {kind} of the project; rename one of them.")
            continue
        model.objects.filter(pk=pk).update(name=composed)


def compose_names(apps, schema_editor):
    _compose(apps.get_model("projects", "Label"), "label")
    _compose(apps.get_model("projects", "Source"), "source")


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0016_rule_unique"),
    ]

    operations = [
        migrations.RunPython(compose_names, migrations.RunPython.noop),
    ]
