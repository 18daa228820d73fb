"""The per-retrain "auto" choices (structure and floor, label-name prior, penalty) judged on
cross-fitted folds (learner.training.oof.FoldPart): embeddings that learned their own labels
must not be the evidence, as they would be for the final model's fine-tuned encoder."""
import numpy as np
import pytest

from learner.training import TrainConfig, train_classifier
from learner.training.oof import FoldPart

LABELS = ("a", "b", "c", "d")
PARENTS = {"a": "P", "b": "P", "c": "Q", "d": "Q"}


def leaky(seed: int = 0):
    """Labels drawn at random; ``X`` carries each row's label (an encoder that learned them),
    while each cross-fitted fold's embeddings carry only its training rows' labels: its held-out
    rows are noise, as for an encoder fine-tuned without them."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.array(LABELS), 18))
    noise = rng.normal(size=(len(y), 8)).astype(np.float32)
    signal = np.zeros_like(noise)
    signal[np.arange(len(y)), [LABELS.index(v) for v in y]] = 3.0
    X = signal + 0.1 * noise
    fold = np.arange(len(y)) % 3
    label_vectors = {label: np.eye(8, dtype=np.float32)[i] * 3.0 for i, label in enumerate(LABELS)}
    parts = []
    for f in range(3):
        X_f = noise.copy()
        X_f[fold != f] = X[fold != f]
        parts.append(FoldPart(np.flatnonzero(fold != f), np.flatnonzero(fold == f), X_f, label_vectors))
    return X, y, parts, label_vectors


CONFIG = TrainConfig(hierarchy="auto", label_prior="auto", label_prior_below=30, penalty="auto", cv_folds=3,
                     self_training=False)


def choices(report):
    return report["hierarchy_choice"], report["label_prior_choice"], report["penalty_choice"]


def test_choices_are_judged_on_the_cross_fitted_folds_not_on_embeddings_that_learned_the_labels():
    X, y, parts, label_vectors = leaky()
    leaked = train_classifier(X, y, config=CONFIG, parents=PARENTS, label_vectors=label_vectors).report
    honest = train_classifier(X, y, config=CONFIG, parents=PARENTS, label_vectors=label_vectors,
                              cross_fitted=parts).report
    for choice in choices(leaked):
        assert min(choice["macro_f1"].values()) > 0.95, choice  # every arm looks perfect
        assert choice["evidence"] == "folds over the labeled rows' embeddings"
    for choice in choices(honest):
        assert max(choice["macro_f1"].values()) < 0.5, choice  # four labels at random: chance is 0.25
        assert choice["evidence"].startswith("cross-fitted folds")
        assert choice["rows_compared"] == len(y) and choice["folds"] == 3
    assert len(honest["hierarchy_choice"]["fold_differences"]["flat"]) == 3


def test_cross_fitted_folds_must_match_the_labeled_rows():
    X, y, parts, label_vectors = leaky()
    wrong = [FoldPart(p.train, p.held, p.X[:, :4], p.label_vectors) for p in parts]
    with pytest.raises(ValueError, match="cross-fitted fold 1: embeddings of shape"):
        train_classifier(X, y, config=CONFIG, parents=PARENTS, label_vectors=label_vectors, cross_fitted=wrong)
    overlapping = [FoldPart(np.arange(len(y)), p.held, p.X, p.label_vectors) for p in parts]
    with pytest.raises(ValueError, match="held-out row is also a training row"):
        train_classifier(X, y, config=CONFIG, parents=PARENTS, label_vectors=label_vectors, cross_fitted=overlapping)
