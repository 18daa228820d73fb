"""The planner's input: ``PoolSnapshot``, row-aligned arrays of every item the planner may
consider, and the helpers that build its parts the same way for the product (labeling.waves.pool)
and the simulation (learner.simulation): duplicate groups, the model's probabilities over the
project's labels, and the texts label vectors are embedded from."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def duplicate_groups(item_ids: Sequence, near_groups: Sequence | None, text_hashes: Sequence[str]) -> np.ndarray:
    """Group id per row: the near-duplicate group where the importer found one, else exact
    duplicates (same normalised-text hash) share the group of their first row, so a wave never
    asks for the same text twice. Rows must be in item order (first = lowest id)."""
    first_of_hash: dict[str, int] = {}
    groups = np.empty(len(item_ids), dtype=np.int64)
    for row, (item_id, h) in enumerate(zip(item_ids, text_hashes, strict=True)):
        group = None if near_groups is None else near_groups[row]
        groups[row] = int(group) if group is not None else first_of_hash.setdefault(h, int(item_id))
    return groups


def project_proba(proba: np.ndarray, model_classes: Sequence[str], label_names: Sequence[str]) -> np.ndarray:
    """A model's probability columns placed on the project's label list; a label the model has
    not seen yet (no training example) gets probability 0 but stays in the planner's view, so
    the rare strategy can still seek it by name."""
    index = {name: k for k, name in enumerate(label_names)}
    unknown = [c for c in model_classes if c not in index]
    if unknown:
        raise ValueError(f"the model knows labels the project does not list: {unknown[:5]}")
    full = np.zeros((len(proba), len(label_names)), dtype=np.float32)
    full[:, [index[c] for c in model_classes]] = proba
    return full


def label_texts(label_names: Sequence[str], descriptions: dict[str, str] | None = None) -> list[str]:
    """What each label's vector is embedded from: "name: description", or the name alone."""
    descriptions = descriptions or {}
    return [f"{name}: {descriptions[name]}" if descriptions.get(name) else str(name) for name in label_names]


@dataclass
class PoolSnapshot:
    """Row-aligned arrays describing every item the planner may consider (labeled ones included:
    their embeddings and labels feed the rare-label neighbour search)."""

    item_ids: np.ndarray
    label_names: list[str]
    labeled: np.ndarray | None = None  # bool: labeled, or otherwise never to be picked
    sources: np.ndarray | None = None  # str per row (None: one unnamed source)
    dup_groups: np.ndarray | None = None  # int per row; rows sharing a value are duplicates
    embeddings: np.ndarray | None = None  # float32 (n, d), L2-normalised
    proba: np.ndarray | None = None  # (n, K) calibrated; None = cold start
    labeled_y: np.ndarray | None = None  # int per row: label index of labeled rows, -1 otherwise
    label_counts: np.ndarray | None = None  # (K,) labeled examples per label (default from labeled_y)
    rule_rows: dict[int, np.ndarray] | None = None  # label index -> rows its rules match
    label_vectors: np.ndarray | None = None  # (K, d) embeddings of label name + description

    def __post_init__(self):
        self.item_ids = np.asarray(self.item_ids)
        n = len(self.item_ids)
        k = len(self.label_names)

        def check(name, arr, shape0=n):
            if arr is not None and len(arr) != shape0:
                raise ValueError(f"PoolSnapshot.{name} has {len(arr)} rows, expected {shape0}")

        self.labeled = np.zeros(n, bool) if self.labeled is None else np.asarray(self.labeled, bool)
        self.sources = (np.full(n, "", dtype=object) if self.sources is None
                        else np.asarray(self.sources, dtype=object))
        self.dup_groups = (np.arange(n, dtype=np.int64) if self.dup_groups is None
                           else np.asarray(self.dup_groups, dtype=np.int64))
        self.labeled_y = (np.full(n, -1, np.int64) if self.labeled_y is None
                          else np.asarray(self.labeled_y, np.int64))
        for name in ("labeled", "sources", "dup_groups", "embeddings", "proba", "labeled_y"):
            check(name, getattr(self, name))
        if self.proba is not None:
            self.proba = np.asarray(self.proba, dtype=np.float32)
            if self.proba.ndim != 2 or self.proba.shape[1] != k:
                raise ValueError(f"PoolSnapshot.proba must have shape ({n}, {k}), got {self.proba.shape}")
        if self.embeddings is not None:
            self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if self.label_counts is None:
            valid = self.labeled_y[(self.labeled_y >= 0)]
            self.label_counts = np.bincount(valid, minlength=k)[:k]
        else:
            self.label_counts = np.asarray(self.label_counts, dtype=np.int64)
            check("label_counts", self.label_counts, k)
        if self.label_vectors is not None:
            self.label_vectors = np.asarray(self.label_vectors, dtype=np.float32)
            check("label_vectors", self.label_vectors, k)

    def __len__(self) -> int:
        return len(self.item_ids)
