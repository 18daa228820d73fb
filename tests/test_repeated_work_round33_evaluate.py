"""simulate's evaluation of a model scores its evaluation rows once: the probabilities (for the
ECE) and the predicted labels (for the F1 figures) come from one pass over the head, where
``predict`` used to score the rows a second time. The predicted label is still ``predict``'s: for
a coarse → fine model the fine candidate, also where the model falls back to the coarse label."""
import numpy as np
import pytest

from learner.simulation.evaluate import evaluate_model
from learner.training.classifier import TrainedClassifier

CLASSES = ["late", "rude", "pos", "neu"]
PARENTS = {"late": "neg", "rude": "neg", "pos": "pos", "neu": "neu"}
# Probability rows (the head gives them back: its scores are their logs). A falls back to "neg"
# (late's share of the neg branch .533 < .75) with late as its fine candidate; B's branch is neg (.36).
ROWS = {"A": [0.32, 0.28, 0.395, 0.005], "B": [0.33, 0.03, 0.34, 0.30], "C": [0.03, 0.02, 0.90, 0.05],
        "D": [0.90, 0.03, 0.04, 0.03], "R": [0.05, 0.85, 0.05, 0.05], "N": [0.02, 0.03, 0.05, 0.90]}
TRUTH = ["late", "rude", "pos", "late", "rude", "neu"]  # of A, B, C, D, R, N


class CountingHead:
    """A fitted head whose scores are its input, counting how often (and how many rows) it scores."""

    def __init__(self):
        self.classes_ = np.array(CLASSES)
        self.calls = 0
        self.rows = 0

    def decision_function(self, X):
        self.calls += 1
        self.rows += len(X)
        return np.asarray(X, dtype=np.float64)


def evaluate(parents):
    head = CountingHead()
    model = TrainedClassifier(head, parents=parents, fine_floor=0.75)
    X = np.log(np.array(list(ROWS.values()), dtype=np.float32))
    names = sorted(CLASSES)
    metrics = evaluate_model(model, X, np.array(TRUTH), names, {n: i for i, n in enumerate(names)}, ["rude"])
    return head, metrics


def test_a_coarse_to_fine_model_is_scored_once_and_judged_on_its_fine_candidates():
    head, metrics = evaluate(PARENTS)
    assert (head.calls, head.rows) == (1, len(ROWS))
    # predicted: A late (the fallback's fine candidate), B late, C pos, D late, R rude, N neu → 5 of 6 right
    assert metrics["micro_f1"] == pytest.approx(5 / 6)
    # F1: late 2·(2/3)·1/(2/3 + 1) = .8, rude 2·1·.5/1.5 = 2/3, pos 1, neu 1
    assert metrics["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 1 + 1) / 4)
    assert metrics["rare_recall"] == pytest.approx(0.5)
    assert 0 <= metrics["ece"] <= 1


def test_a_flat_model_is_scored_once_and_judged_on_its_argmax():
    head, metrics = evaluate(None)
    assert (head.calls, head.rows) == (1, len(ROWS))
    # predicted: A pos, B pos, C pos, D late, R rude, N neu → C, D, R, N right
    assert metrics["micro_f1"] == pytest.approx(4 / 6)
    # F1: late 2·1·.5/1.5 = 2/3, rude 2/3, pos 2·(1/3)·1/(4/3) = .5, neu 1
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0.5 + 1) / 4)
    assert metrics["rare_recall"] == pytest.approx(0.5)
