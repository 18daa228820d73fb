"""The stored scores and the pool estimates of a coarse → fine model are of the label it emits, not
the flat argmax. The version's head is a fixed linear map (identity weights) over 4-d vectors that
are the log-probabilities built by hand, so its calibrated probabilities are those rows exactly.
Classes late, rude (under "neg"), pos, neu; fine_floor 0.75. Wave 2 draws 24 items with π 0.5,
each answered:

- A (6, answered late): pos .395, late .32, rude .28 → argmax pos; emits the coarse label "neg"
  (late's conditional .533 < .75); its stored top label is the fine candidate late.
- B (6, answered late): pos .34, late .33, rude .03 → argmax pos; emits late (conditional .917).
- C (6, answered pos): pos .9. D (6, answered late): late .9.
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
CLASSES = ["late", "rude", "pos", "neu"]
PARENTS = {"late": "neg", "rude": "neg", "pos": "pos", "neu": "neu"}
ROWS = {"A": ([0.32, 0.28, 0.395, 0.005], "late"), "B": ([0.33, 0.03, 0.34, 0.30], "late"),
        "C": ([0.03, 0.02, 0.90, 0.05], "pos"), "D": ([0.90, 0.03, 0.04, 0.03], "late")}


@pytest.fixture
def world(project_factory, make_user):
    project, _, ids = make_world(project_factory, make_user, "emitted", rows={k: row for k, (row, _) in ROWS.items()})
    labels = {label.name: label for label in project.labels.all()}
    ann = make_user("emitted-ann")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=40,
                                          label_map=CLASSES, metrics={}, artifact=fixed_head_bytes(CLASSES, PARENTS))
    wave = Wave.objects.create(project=project, number=2, model_version=version, state=Wave.CLOSED)
    kinds = {}
    for kind, item_ids in ids.items():
        for item_id in item_ids:
            WaveItem.objects.create(wave=wave, item_id=item_id, strategy="random", inclusion_prob=0.5)
            Annotation.objects.create(project=project, item_id=item_id, annotator=ann, label=labels[ROWS[kind][1]],
                                      client_id=uuid.uuid4())
            kinds[item_id] = kind
    score_version(version)
    return project, version, kinds


def test_stored_top_label_is_the_emitted_fine_label(world):
    project, version, kinds = world
    stored = {item_id: (CLASSES[top], prob) for item_id, top, prob in
              ItemScore.objects.filter(model_version=version).values_list("item_id", "top_label", "top_prob")}
    assert len(stored) == 24
    expected = {"A": ("late", 0.32), "B": ("late", 0.33), "C": ("pos", 0.90), "D": ("late", 0.90)}
    for item_id, kind in kinds.items():
        label, prob = stored[item_id]
        # A and B: the argmax is pos; the model emits late's branch (A falls back, keeping late as candidate)
        assert label == expected[kind][0], kind
        assert abs(prob - expected[kind][1]) < 1e-5, kind


def test_pool_estimates_are_of_the_emitted_label(world):
    project, _, _ = world
    estimate = version_estimates(project)[1]
    rows = {row["label"]: row for row in estimate["labels"]}
    assert estimate["sample"]["picks"] == 24
    # pos: predicted by the 6 C items only, all right (argmax: 18 predicted, precision 1/3)
    assert rows["pos"]["n_predicted"] == 6 and rows["pos"]["precision"] == 1.0 and rows["pos"]["recall"] == 1.0
    # late: 18 answered late; B and D emit it (12, all right), A's 6 fall back to "neg": misses
    assert rows["late"]["n"] == 18 and rows["late"]["n_predicted"] == 12
    assert rows["late"]["precision"] == 1.0 and abs(rows["late"]["recall"] - 12 / 18) < 1e-12
    # the 6 fallbacks predict none of the model's classes: no row of their own (exact matching
    # against the fine answers would count all 6 as wrong) and no label's false positive
    assert "neg" not in rows
    assert sum(row["n_predicted"] for row in rows.values()) == 24 - 6
