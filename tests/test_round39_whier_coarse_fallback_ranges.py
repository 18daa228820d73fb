"""Pool estimates of a coarse label that is also a class, with fallbacks among the picks not yet
answered: a fallback is no prediction of any class (docs/estimates.md), so an open pick the model
falls back on widens no class's precision range, and the coarse class's predictions are the picks
that emit it without falling back.

Fixed head (tests/test_fallback_shown_pages.py): classes late, rude, neg (late and rude under neg)
and pos; fine_floor 0.75.
- A (answered late) and F (wave still open): late .32, rude .27, neg .02, pos .39 → falls back to neg.
- N (answered neg): neg .90 → emits the class neg.
- P (answered pos): pos .90.
"""
import uuid

import pytest

from labeling.annotations.models import Annotation
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import score_version
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem

from .test_fallback_shown_pages import fixed_head_bytes, make_world

pytestmark = pytest.mark.django_db
CLASSES = ["late", "rude", "neg", "pos"]
PARENTS = {"late": "neg", "rude": "neg", "neg": "neg", "pos": "pos"}
FALLS_BACK = [0.32, 0.27, 0.02, 0.39]
ROWS = {"A": (FALLS_BACK, "late"), "N": ([0.02, 0.02, 0.90, 0.06], "neg"), "P": ([0.03, 0.02, 0.05, 0.90], "pos"),
        "F": (FALLS_BACK, None)}


def test_open_fallback_picks_are_no_predictions_of_the_coarse_class(project_factory, make_user):
    project, _, ids = make_world(project_factory, make_user, "coarseopen", labels=("neg", "late", "rude", "pos"),
                                 rows={k: row for k, (row, _) in ROWS.items()})
    labels = {label.name: label for label in project.labels.all()}
    ann = make_user("coarseopen-ann")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=40,
                                          label_map=CLASSES, metrics={}, artifact=fixed_head_bytes(CLASSES, PARENTS),
                                          label_ids={name: label.pk for name, label in labels.items()})
    closed = Wave.objects.create(project=project, number=2, model_version=version, state=Wave.CLOSED)
    still_open = Wave.objects.create(project=project, number=3, model_version=version, state=Wave.OPEN)
    for kind, item_ids in ids.items():
        for item_id in item_ids:
            WaveItem.objects.create(wave=still_open if kind == "F" else closed, item_id=item_id, strategy="random",
                                    inclusion_prob=0.5)
            if ROWS[kind][1]:
                Annotation.objects.create(project=project, item_id=item_id, annotator=ann,
                                          label=labels[ROWS[kind][1]], client_id=uuid.uuid4())
    score_version(version)
    assert ItemScore.objects.filter(model_version=version, fallback=True).count() == 12
    estimate = version_estimates(project)[1]
    rows = {row["label"]: row for row in estimate["labels"]}
    assert estimate["sample"]["picks"] == 18 and estimate["sample"]["open"] == 6
    neg = rows["neg"]
    assert (neg["n_predicted"], neg["precision"], neg["recall"]) == (6, 1.0, 1.0)
    # the 6 open picks fall back: whatever their answers, they are no prediction of neg
    assert neg["precision_range"] == [1.0, 1.0], neg["precision_range"]
    # late: its 6 answered items all fell back, missed
    assert rows["late"]["recall"] == 0.0 and rows["late"]["n_predicted"] == 0
