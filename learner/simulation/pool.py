"""One simulated wave, built the way the product builds it.

``SimPool`` holds a pool's row-aligned arrays; ``plan_simulated_wave`` turns the pool and what is
labeled so far into the planner's ``PoolSnapshot`` with the same helpers as the product's
``labeling.waves.pool`` (duplicate groups by normalised-text hash, the model's probabilities
placed on the label list and rounded as stored, rule matches) and plans it;
``train_simulated_model`` retrains as ``labeling.modeling.versions.train_version`` does (the
same taxonomy restriction, duplicate groups and self-training sample). tests/test_parity.py
plans one database snapshot through both paths and requires identical waves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learner.planning import PlannerConfig, PoolSnapshot, WavePlan, duplicate_groups, plan_wave, project_proba
from learner.rules import match_rules
from learner.scoring import as_stored
from learner.text import text_hash
from learner.training import TrainConfig, TrainedClassifier, train_classifier
from learner.training.config import needs_unlabeled, prior_possible
from learner.training.self_training import rows_outside_labeled_groups, sample_unlabeled_rows
from learner.training.taxonomy import restrict_taxonomy


@dataclass
class SimPool:
    """Row-aligned arrays of a simulated pool (rows in item order)."""

    item_ids: np.ndarray
    texts: list[str]
    sources: np.ndarray
    embeddings: np.ndarray  # float32 (n, d), L2-normalised
    label_names: list[str]  # the project's labels, in the planner's order
    label_vectors: np.ndarray | None = None  # (K, d)
    rules: list | None = None  # (label name, compiled matcher) pairs
    near_groups: np.ndarray | None = None  # the importer's near-duplicate groups, where known

    def __post_init__(self):
        self.item_ids = np.asarray(self.item_ids)
        self.sources = np.asarray(self.sources, dtype=object)
        self.text_hashes = [text_hash(t) for t in self.texts]
        self.groups = duplicate_groups(self.item_ids, self.near_groups, self.text_hashes)
        self.label_index = {name: k for k, name in enumerate(self.label_names)}
        self.rule_rows = match_rules(self.rules or [], self.texts, self.label_index)


def pool_proba(pool: SimPool, model: TrainedClassifier) -> np.ndarray:
    """The model's probabilities for every pool row over the pool's label list, as the planner
    reads them after the product stored them."""
    return as_stored(project_proba(model.predict_proba(pool.embeddings), model.classes_, pool.label_names))


def plan_simulated_wave(pool: SimPool, off_limits: np.ndarray, labeled_y: np.ndarray, proba: np.ndarray | None,
                        config: PlannerConfig, *, seed: int) -> WavePlan:
    """Plan one wave: ``off_limits`` marks rows already answered (or otherwise never to pick),
    ``labeled_y`` the label index of labeled rows (-1 elsewhere), ``proba`` the stored
    probabilities of the active model (None: cold start)."""
    snapshot = PoolSnapshot(
        item_ids=pool.item_ids, label_names=list(pool.label_names), labeled=off_limits, sources=pool.sources,
        dup_groups=pool.groups, embeddings=pool.embeddings, proba=proba, labeled_y=labeled_y,
        rule_rows=pool.rule_rows, label_vectors=pool.label_vectors)
    return plan_wave(snapshot, config, seed=seed)


def train_simulated_model(pool: SimPool, labeled_rows: np.ndarray, labels: np.ndarray, *, config: TrainConfig,
                          version: int, parents: dict | None = None, targets: dict | None = None,
                          self_training_rows: int = 20_000) -> TrainedClassifier:
    """Retrain on the labeled rows (``labels``: names), as the product's version ``version``
    would: taxonomy restricted to the labels present, duplicate groups, and a self-training sample
    of up to ``self_training_rows`` unlabeled rows seeded by the version number."""
    labeled_rows = np.asarray(labeled_rows, dtype=np.int64)
    order = np.argsort(pool.item_ids[labeled_rows], kind="stable")  # the product trains in item order
    labeled_rows, labels = labeled_rows[order], np.asarray(labels, dtype=object)[order]
    parents, targets = restrict_taxonomy(dict(parents or {}), dict(targets or {}), {str(v) for v in labels})
    unlabeled, unlabeled_total = None, None
    if needs_unlabeled(config):
        rest = rows_outside_labeled_groups(pool.groups, labeled_rows)
        rows = sample_unlabeled_rows(rest, self_training_rows, seed=version)
        unlabeled, unlabeled_total = (pool.embeddings[rows] if len(rows) else None), len(rest)
    # Groups over the training rows alone, as the product's training set forms them.
    near = None if pool.near_groups is None else [pool.near_groups[r] for r in labeled_rows]
    groups = duplicate_groups(pool.item_ids[labeled_rows], near, [pool.text_hashes[r] for r in labeled_rows])
    # The label-name prior (on, or auto: chosen per retrain) reads the label vectors the planner has
    # (the product embeds the same texts).
    label_vectors = (dict(zip(pool.label_names, pool.label_vectors, strict=True))
                     if prior_possible(config) and pool.label_vectors is not None else None)
    return train_classifier(pool.embeddings[labeled_rows], labels, config=config, groups=groups,
                            targets=targets or None, parents=parents or None, unlabeled=unlabeled,
                            unlabeled_total=unlabeled_total, label_vectors=label_vectors)
