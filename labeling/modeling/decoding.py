"""A model version's decoding rule (its classes, coarse → fine taxonomy and fallback floor), kept
per process for every version that is asked for it.

Pages that show what a version emits (the dashboard's estimates for each version, the item
browser, the item page) need this rule, not the head. The head memo (``load_classifier``) keeps
4 heads, so a dashboard over more versions unpickled heads on every load; a rule is a few
hundred bytes, so every version's stays and each head is read at most once per process for it.
Most reads need no rule at all: ``ItemScore.fallback`` says per row whether the model fell back,
and only a fallback (for its coarse label and its branch's probability) asks for one. Rows scored
before that column were filled in by the migration ``0009_itemscore_fallback_fill``; a NULL left
(a head it could not read, or a row a previous release wrote during the upgrade) reads as False,
the stored top label, everywhere: the browser, its filter and the dashboard's counts agree.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

import numpy as np
from django.db.models import Q

from .artifact_paths import VersionPruned
from .models import ModelVersion
from .selectors import model_labels
from .versions import NoActiveModel, load_classifier

# Far more versions than a process sees; only a bound against a process living for ever.
_RULES_MAX = 4096
_RULES: OrderedDict[int, DecodingRule] = OrderedDict()
_RULES_LOCK = threading.Lock()


@dataclass(frozen=True)
class DecodingRule:
    classes: tuple[str, ...]
    parents: dict[str, str] = field(default_factory=dict)  # empty for a flat model
    fine_floor: float = 0.75

    def coarse_of(self, column: int) -> str | None:
        """The coarse label a fallback on the fine candidate ``column`` emits."""
        return self.parents.get(self.classes[column]) if 0 <= column < len(self.classes) else None

    def children(self, coarse: str) -> list[int]:
        """The columns of the fine labels under ``coarse``: a fallback to it keeps one of them as top label."""
        return [i for i, name in enumerate(self.classes) if self.parents.get(name) == coarse]

    def branch_prob(self, proba: np.ndarray, columns) -> np.ndarray:
        """Per row of ``proba``, the probability of the branch the fine candidate in ``columns`` is in."""
        coarse = np.array([self.parents.get(name) for name in self.classes], dtype=object)
        same = coarse[None, :] == coarse[np.asarray(columns, dtype=np.int64)][:, None]
        return np.where(same, np.asarray(proba, dtype=np.float64), 0.0).sum(axis=1)


def decoding_rule(version: ModelVersion) -> DecodingRule | None:
    """The version's rule, or None when it has no head (none stored yet, or pruned); a miss is not
    kept, so a version that gets its head later is read then."""
    with _RULES_LOCK:
        rule = _RULES.get(version.pk)
        if rule is not None:
            _RULES.move_to_end(version.pk)
            return rule
    try:
        classifier = load_classifier(version)
    except (NoActiveModel, VersionPruned):
        return None
    rule = DecodingRule(classes=tuple(classifier.classes_), parents=dict(classifier.parents or {}),
                        fine_floor=float(classifier.fine_floor))
    with _RULES_LOCK:
        _RULES[version.pk] = rule
        while len(_RULES) > _RULES_MAX:
            _RULES.popitem(last=False)
    return rule


def emitting_columns(version: ModelVersion, label_id: int) -> tuple[int | None, list[int]]:
    """Where the stored scores of the label ``label_id`` (by the id the version recorded, whatever
    the label is named now) are: (its own column, where it is one of the version's classes; the
    columns whose fallbacks emit it, where it is a coarse label: its branch's fine labels, its own
    column too when the coarse label is also a class, answered at the coarse level)."""
    labels = model_labels(version)
    own = labels.column_of_label(label_id)
    coarse = {name for name, (pk, _) in labels.known.items() if pk == label_id}
    # a class may be a coarse label too (only the rule says): read once per process per version
    rule = decoding_rule(version) if coarse else None
    if rule is None or not rule.parents:
        return own, []  # a flat model (or no head to say): no fallbacks
    return own, sorted({column for name in coarse for column in rule.children(name)})


def request_emitting_columns(version: ModelVersion, label_id: int) -> tuple[int | None, list[int]]:
    """``emitting_columns``, worked out once per ModelVersion instance, for readers that read the
    version once per request (the item browser: labeling.items.browse.active_version). Its
    predicted filter needs them three times (the index condition, the narrowing probe, the exact
    condition), and each working out reads the project's labels; within one request they are the
    same."""
    if not hasattr(version, "_emitting_columns"):
        version._emitting_columns = {}
    if label_id not in version._emitting_columns:
        version._emitting_columns[label_id] = emitting_columns(version, label_id)
    return version._emitting_columns[label_id]


def rows_emitting(own: int | None, children: list[int]) -> Q | None:
    """The condition (beside the version) on the stored scores that emit a label, of its
    ``emitting_columns`` (taken, not recomputed: the browser asks for them once per request): its
    column less the rows falling back from it (to their coarse label), or a fallback to it (a
    fallback keeps its fine candidate as top label). A NULL ``fallback`` is not a fallback (module
    docstring). None: the version never emits the label."""
    parts = ([Q(top_label=own) & ~Q(fallback=True)] if own is not None else []) + (
        [Q(top_label__in=children, fallback=True)] if children else [])
    return reduce(or_, parts) if parts else None


def clear_rules() -> None:
    with _RULES_LOCK:
        _RULES.clear()
