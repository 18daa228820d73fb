"""Held-out figures of a coarse → fine model are of the label it emits (``decide``: the most probable
branch, the best fine label in it, the coarse label where P(fine | coarse) < fine_floor), not the
flat argmax: the per-class table and confusion matrix, the thresholds and their "met", and the
review share.

The rows are built by hand so that the two rules differ on known rows. Classes late, rude (under
"neg"), pos, neu (each its own branch); fine_floor 0.75:

- A (20, truth late): pos .395, late .32, rude .28 → argmax pos; branch neg (.60) wins, late's
  conditional .533 < .75 → emits the coarse label "neg" (a fallback).
- B (40, truth late): pos .34, late .33, rude .03 → argmax pos; branch neg (.36) wins, late's
  conditional .917 → emits late.
- C (100, truth pos): pos spread over .36-.95 → emits pos either way.
- D (40, truth late): late .9 → late either way.
- E (40, truth neu): neu .9 → neu either way.
"""
import numpy as np

from learner.training import TrainConfig
from learner.training.classifier import TrainedClassifier
from learner.training.evaluate import calibrate_and_evaluate

CLASSES = ["late", "rude", "pos", "neu"]
PARENTS = {"late": "neg", "rude": "neg", "pos": "pos", "neu": "neu"}
ROW_A = [0.32, 0.28, 0.395, 0.005]
ROW_B = [0.33, 0.03, 0.34, 0.30]
ROW_D = [0.90, 0.03, 0.04, 0.03]
ROW_E = [0.03, 0.02, 0.05, 0.90]


def _rows():
    pos = np.linspace(0.36, 0.95, 100)
    rest = 1 - pos
    rows_c = np.c_[rest * 0.3, rest * 0.2, pos, rest * 0.5]
    proba = np.vstack([np.tile(ROW_A, (20, 1)), np.tile(ROW_B, (40, 1)), rows_c, np.tile(ROW_D, (40, 1)),
                       np.tile(ROW_E, (40, 1))])
    truth = ["late"] * 60 + ["pos"] * 100 + ["late"] * 40 + ["neu"] * 40
    return proba / proba.sum(axis=1, keepdims=True), truth


def _evaluate(targets: dict):
    proba, truth = _rows()
    config = TrainConfig(calibrate="none", threshold_mix="labeled", fine_floor=0.75)
    groups = np.arange(len(truth))
    return calibrate_and_evaluate(config, np.log(proba), truth, np.ones(len(truth)), CLASSES, targets, PARENTS, [],
                                  groups=groups)


def test_decide_and_the_vectorised_rule_agree_on_the_rows_where_argmax_differs():
    proba, _ = _rows()
    model = TrainedClassifier(type("Fixed", (), {"classes_": CLASSES})(), parents=PARENTS, fine_floor=0.75)
    picked = proba[[0, 20, 60, 160, 200]]  # one row of A, B, C, D, E
    decided = model.decide(None, proba=picked)
    assert [d["label"] for d in decided] == ["neg", "late", "pos", "late", "neu"]
    assert [d["fallback"] for d in decided] == [True, False, False, False, False]
    assert [CLASSES[i] for i in picked.argmax(axis=1)] == ["pos", "pos", "pos", "late", "neu"]
    emitted = model.emitted(picked)
    assert list(emitted.label) == ["neg", "late", "pos", "late", "neu"]
    assert list(emitted.column) == [-1, 0, 2, 0, 3]  # a fallback is no class's prediction
    assert list(emitted.fine_column) == [0, 0, 2, 0, 3]  # the fine candidate, kept on fallback


def test_per_class_table_and_confusion_count_the_emitted_label():
    report = _evaluate({}).report
    per_class = report["validation"]["per_class"]
    # pos: predicted only by the 100 C rows, all right (argmax: 160 predicted, precision 0.625)
    assert per_class["pos"]["precision"] == 1.0 and per_class["pos"]["recall"] == 1.0
    # late: 100 true rows; B and D emit late (80, all right), A falls back to "neg" (a miss)
    assert abs(per_class["late"]["recall"] - 0.8) < 1e-12 and per_class["late"]["precision"] == 1.0
    confusion = np.array(report["validation"]["confusion_matrix"])
    late, pos = CLASSES.index("late"), CLASSES.index("pos")
    assert confusion[late, pos] == 0  # argmax: 60 late rows in the pos column
    assert confusion[late, late] == 80
    assert confusion[late].sum() == 80  # the 20 fallbacks are in no fine label's column
    assert abs(report["hierarchy"]["fallback_share"] - 20 / 240) < 1e-12


def test_thresholds_and_met_are_judged_on_the_rows_that_emit_the_label():
    out = _evaluate({"pos": {"precision": 0.9}, "late": {"recall": 0.6}})
    rows = {row["label"]: row for row in out.report["thresholds"]}
    # every row emitting pos is right, so the lowest cut keeps them all: the lowest C probability;
    # under argmax the 60 wrong pos rows at .34 and .395 force a cut above .395
    assert abs(out.thresholds["pos"] - 0.36) < 1e-9
    assert rows["pos"]["met"] is True and rows["pos"]["held_out_precision"] == 1.0
    # late emitted by B (.33) and D (.9): keeping both gives recall 80/100; keeping D alone 40/100,
    # below the target, so the threshold is B's probability and the held-out recall is 0.8 (argmax:
    # late predicted only on D, recall 0.4: infeasible, met False)
    assert abs(out.thresholds["late"] - 0.33 / sum(ROW_B)) < 1e-9
    assert rows["late"]["met"] is True and abs(rows["late"]["held_out_recall"] - 0.8) < 1e-12


def test_review_share_counts_fallbacks_against_their_coarse_threshold():
    """A precision target of 0.99 on "neg" governs the 20 fallbacks (all right at the coarse level, too
    few to prove 0.99): every fallback goes to review, nothing else does (pos and late have no
    target). Review share 20 / 240; argmax-based, the fallbacks read as pos predictions with no
    threshold and the share was 0."""
    out = _evaluate({"neg": {"precision": 0.99}})
    coarse = {row["label"]: row for row in out.report["hierarchy"]["coarse_thresholds"]}
    assert coarse["neg"]["feasible"] is False and out.coarse_thresholds["neg"] > 1
    assert coarse["neg"]["held_out_kept"] == 0
    assert abs(out.report["review_share"] - 20 / 240) < 1e-12
