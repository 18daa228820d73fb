"""Fill in ``ItemScore.fallback`` for rows scored before the column (NULL), so that every reader can
take NULL as False: the browser showed such a row of a coarse → fine model as its coarse label
(decoded from its probability row) while its "predicted" filter and the dashboard's counts kept
it under its fine candidate.

Only versions that can have fallbacks are read: those of a project with a two-level taxonomy, or
whose report has a ``hierarchy`` part (a coarse → fine model's evaluation writes it); a flat
model's NULL rows stay NULL, which reads as what they are (no fallback). Each version's rule is its
head's taxonomy and fallback floor. A version whose head is gone (pruned: only its scores of wave
picks remain, which the estimates read; or a head file missing on this host) keeps its report's
floor, and its taxonomy is rebuilt from the project's labels as they are now, matched by the ids
the version recorded: where a class's label was deleted, or its parent is a label the version did
not know (the taxonomy changed since), the rule cannot be rebuilt and the rows stay NULL, read as
their stored top label, which is what such a version showed before.

A row falls back where P(fine | coarse) < floor for its stored fine candidate: the stored top
probability (unrounded) over its branch's sum in the stored float16 row, the other classes capped
below it as the readers do. In chunks of ``CHUNK`` rows, each its own transaction (the migration is
not atomic), so a run that stops part-way is resumed by the next: only NULL rows are read.
Written out here rather than imported from the app, as a migration must keep doing what it did.
"""
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import migrations, transaction
from django.db.models import Q

from learner.training.classifier import TrainedClassifier

CHUNK = 5000
FLOAT16 = np.dtype("<f2")  # learner.scoring.PROBS_DTYPE when this was written


def head_bytes(version) -> bytes | None:
    if version.pruned_at is not None:
        return None
    if version.artifact:
        return bytes(version.artifact)
    if not version.artifact_path:
        return None
    path = Path(version.artifact_path)
    if not path.is_absolute():
        path = Path(settings.LONGTAIL_ARTIFACT_DIR) / path
    if not path.exists():
        path = Path(settings.LONGTAIL_ARTIFACT_DIR) / version.project.slug / f"model-v{version.number}.bin"
    return path.read_bytes() if path.exists() else None


def stored_rule(version, Label) -> tuple[dict[str, str], float] | None:
    """(parents, floor) from what a version without its head stores, or None."""
    hierarchy = (version.metrics or {}).get("hierarchy")
    if not isinstance(hierarchy, dict) or hierarchy.get("fine_floor") is None:
        return None
    ids = {str(name): pk for name, pk in (version.label_ids or {}).items()}
    name_of = {pk: name for name, pk in ids.items()}
    now = dict(Label.objects.filter(project_id=version.project_id).values_list("id", "parent_id"))
    parents = {}
    for name in version.label_map or []:
        pk = ids.get(str(name))
        if pk is None or pk not in now:
            return None  # the class's label is gone: its branch is not known
        parent = now[pk]
        if parent is not None and parent not in name_of:
            return None  # a parent the version did not know: the taxonomy changed since
        parents[str(name)] = name_of[parent] if parent is not None else str(name)  # answered at the coarse level
    return parents, float(hierarchy["fine_floor"])


def version_rule(version, Label) -> tuple[list[str], dict[str, str], float] | None:
    """(classes, parents, floor) of a coarse → fine version, or None (flat, or not to be known)."""
    classes = [str(name) for name in version.label_map or []]
    try:
        blob = head_bytes(version)
    except OSError:
        blob = None
    if blob is not None:
        classifier = TrainedClassifier.from_bytes(blob)
        if not classifier.parents or [str(c) for c in classifier.classes_] != classes:
            return None
        return classes, dict(classifier.parents), float(classifier.fine_floor)
    rebuilt = stored_rule(version, Label)
    return (classes, *rebuilt) if rebuilt is not None else None


def fallbacks(rows, classes, parents, floor) -> np.ndarray:
    """Per row (pk, top_label, top_prob, probs): whether it falls back to its coarse label."""
    k = len(classes)
    top = np.array([r[1] for r in rows], dtype=np.int64)
    top_prob = np.array([r[2] for r in rows], dtype=np.float64)
    proba = np.frombuffer(b"".join(bytes(r[3]) for r in rows), dtype=FLOAT16).reshape(len(rows), k)
    proba = np.minimum(proba.astype(np.float64), np.nextafter(top_prob, 0.0)[:, None])
    proba[np.arange(len(rows)), top] = top_prob
    branch = np.array([parents.get(c, c) for c in classes], dtype=object)
    same = branch[None, :] == branch[top][:, None]
    coarse_p = np.where(same, proba, 0.0).sum(axis=1)
    conditional = np.divide(top_prob, coarse_p, out=np.ones_like(top_prob), where=coarse_p > 0)
    return conditional < floor


def fill(apps, schema_editor):
    ModelVersion = apps.get_model("learner", "ModelVersion")
    ItemScore = apps.get_model("learner", "ItemScore")
    Label = apps.get_model("projects", "Label")
    tree = Label.objects.filter(parent__isnull=False).values("project_id")
    candidates = ModelVersion.objects.filter(Q(project_id__in=tree) | Q(metrics__has_key="hierarchy"))
    for version in candidates.select_related("project").order_by("pk").iterator():
        nulls = ItemScore.objects.filter(model_version_id=version.pk, fallback__isnull=True)
        if not nulls.exists():
            continue
        rule = version_rule(version, Label)
        if rule is None:
            continue
        classes, parents, floor = rule
        after = -1
        while True:
            rows = list(nulls.filter(item_id__gt=after).order_by("item_id")
                        .values_list("pk", "top_label", "top_prob", "probs", "item_id")[:CHUNK])
            if not rows:
                break
            after = rows[-1][4]
            rows = [r for r in rows if 0 <= r[1] < len(classes) and len(bytes(r[3])) == len(classes) * FLOAT16.itemsize]
            if not rows:
                continue
            fell = fallbacks(rows, classes, parents, floor)
            with transaction.atomic():
                for value in (True, False):
                    pks = [r[0] for r, f in zip(rows, fell, strict=True) if bool(f) is value]
                    if pks:
                        ItemScore.objects.filter(pk__in=pks, fallback__isnull=True).update(fallback=value)


class Migration(migrations.Migration):
    atomic = False  # one transaction per chunk (module docstring)

    dependencies = [
        ('learner', '0008_itemscore_fallback'),
        ('projects', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
