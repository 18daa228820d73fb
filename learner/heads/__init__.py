"""Classification heads over frozen sentence embeddings, and THE registry of them.

A head is an sklearn-style estimator (see ``learner.heads.base.Head``). ``HEADS`` maps the name a
project or ``TrainConfig.head`` uses to the class; adding a head is one module here plus one line
in ``HEADS``. ``make_head(name, **options)`` builds one, passing only the options its constructor
takes (a config carries the options of every head).

Composite heads wrap these: ``hierarchy.HierarchicalHead`` (coarse → fine) and
``other_bucket.OtherBucketHead`` (rare labels share an "Other" class).
"""
from __future__ import annotations

import inspect

from learner.heads.base import ConstantHead, Head
from learner.heads.logreg import LogRegHead
from learner.heads.torch_head import TorchHead

HEADS: dict[str, type[Head]] = {
    "logreg": LogRegHead,
    "torch": TorchHead,
}

__all__ = ["HEADS", "ConstantHead", "Head", "LogRegHead", "TorchHead", "make_head"]


def make_head(head: str = "logreg", **options) -> Head:
    """A fresh head by registry name; options its constructor does not take are ignored."""
    cls = HEADS.get(head)
    if cls is None:
        raise ValueError(f"unknown head {head!r}; expected one of {sorted(HEADS)}")
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in options.items() if k in accepted})
