"""The Other bucket is reported wherever the structure put it: the flat part of a blend and the fine
head of each coarse group, not only when the whole model is one ``OtherBucketHead``."""
import numpy as np
import pytest

from learner.heads.hierarchy import BlendedHead, HierarchicalHead
from learner.heads.other_bucket import OtherBucketHead
from learner.training import TrainConfig, train_classifier
from tests.learner.helpers import clusters

# f0-f3 frequent (60 rows), f4-f7 rare (3 rows each): under min_examples=5 the rare ones are bucketed.
COUNTS = [60, 60, 60, 60, 3, 3, 3, 3]
PARENTS = {"f0": "A", "f1": "A", "f4": "A", "f6": "A", "f2": "B", "f3": "B", "f5": "B", "f7": "B"}
RARE = ["f4", "f5", "f6", "f7"]


def train(hierarchy: str, other_min_examples: int = 5):
    X, y, _ = clusters(COUNTS, dim=16, spread=0.6, seed=12, prefix="f")
    config = TrainConfig(hierarchy=hierarchy, other_min_examples=other_min_examples, cv_folds=3,
                         self_training=False, threshold_mix="labeled", label_prior="off")
    return train_classifier(X, y, config=config, parents=PARENTS if hierarchy != "flat" else None)


def test_blend_reports_the_flat_part_and_each_coarse_group():
    model = train("blend")
    assert isinstance(model.model, BlendedHead)
    longtail = model.report["longtail"]
    assert longtail["other_labels"] == RARE
    assert longtail["parts"] == {
        "flat": {"other_labels": RARE, "description_only_labels": []},
        "coarse_then_fine/fine:A": {"other_labels": ["f4", "f6"], "description_only_labels": []},
        "coarse_then_fine/fine:B": {"other_labels": ["f5", "f7"], "description_only_labels": []},
    }
    choice = model.report["choices"]["other_bucket"]
    assert choice == {"min_examples": 5, "labels": 4,
                      "parts": {"flat": 4, "coarse_then_fine/fine:A": 2, "coarse_then_fine/fine:B": 2}}
    # the labels named are the ones the served model's inner heads do bucket
    assert model.model.flat.rare_labels_ == RARE
    assert model.model.tree.fine_heads_["A"].rare_labels_ == ["f4", "f6"]


def test_coarse_then_fine_reports_each_coarse_group():
    model = train("coarse_then_fine")
    assert isinstance(model.model, HierarchicalHead)
    assert isinstance(model.model.fine_heads_["B"], OtherBucketHead)
    longtail = model.report["longtail"]
    assert longtail["other_labels"] == RARE
    assert {part: v["other_labels"] for part, v in longtail["parts"].items()} == {
        "fine:A": ["f4", "f6"], "fine:B": ["f5", "f7"]}
    assert model.report["choices"]["other_bucket"]["labels"] == 4
    assert model.report["choices"]["other_bucket"]["parts"] == {"fine:A": 2, "fine:B": 2}


def test_flat_model_keeps_its_report_shape():
    model = train("flat")
    assert isinstance(model.model, OtherBucketHead)
    assert model.report["longtail"]["other_labels"] == RARE and model.report["longtail"]["parts"] is None
    assert model.report["choices"]["other_bucket"] == {"min_examples": 5, "labels": 4, "parts": None}


@pytest.mark.parametrize("hierarchy", ["blend", "coarse_then_fine", "flat"])
def test_no_bucket_when_it_is_off(hierarchy):
    model = train(hierarchy, other_min_examples=0)
    assert model.report["longtail"] is None and model.report["choices"]["other_bucket"] is None
    assert np.isfinite(model.predict_proba(clusters(COUNTS, dim=16, seed=13, prefix="f")[0][:5])).all()
