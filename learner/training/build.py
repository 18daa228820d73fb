"""The estimator a ``TrainConfig`` describes: a head from the registry, wrapped in the long-tail
"Other" bucket when asked (or when labels exist only as descriptions), inside a coarse → fine
hierarchy when the labels have parents. The factories are picklable because composite heads keep
them (they make a fresh head per branch)."""
from __future__ import annotations

import numpy as np

from learner.heads import make_head
from learner.heads.hierarchy import BlendedHead, HierarchicalHead
from learner.heads.other_bucket import OtherBucketHead
from learner.training.config import TrainConfig, head_options


class BaseFactory:
    """Picklable factory of fresh heads for one config (composite heads keep their factory)."""

    def __init__(self, config: TrainConfig):
        self.head = config.head
        self.options = head_options(config)

    def __call__(self):
        return make_head(self.head, **self.options)


class LeafFactory:
    """A base head, wrapped in the long-tail bucket when asked or when description-only labels
    exist; ``labels`` limits the descriptions to one branch of a hierarchy."""

    def __init__(self, config: TrainConfig, descriptions: dict | None, parents: dict | None = None):
        self.base = BaseFactory(config)
        self.min_examples = config.other_min_examples
        self.scale = config.second_stage_scale
        self.descriptions = descriptions or {}
        self.parents = parents

    def __call__(self, coarse_label=None):
        wanted = {k: v for k, v in self.descriptions.items()
                  if coarse_label is None or (self.parents or {}).get(k) == coarse_label}
        if self.min_examples > 0 or wanted:
            return OtherBucketHead(self.base, min_examples=self.min_examples, descriptions=wanted, scale=self.scale)
        return self.base()


def build_model(config: TrainConfig, parents: dict | None = None, descriptions: dict | None = None):
    """The (unfitted) estimator a config describes: a flat head, wrapped in the long-tail
    bucket when asked (or when description-only labels exist), inside a coarse → fine hierarchy
    when ``parents`` is given."""
    if parents and config.hierarchy in ("coarse_then_fine", "blend"):
        tree = HierarchicalHead(parents, coarse_factory=BaseFactory(config),
                                fine_factory=LeafFactory(config, descriptions, parents),
                                fine_weighted_coarse=config.coarse_weights == "fine")
        return tree if config.hierarchy == "coarse_then_fine" else BlendedHead(LeafFactory(config, descriptions)(), tree)
    return LeafFactory(config, descriptions)()


def embed_descriptions(label_descriptions, encoder, dim: int) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    texts = {}
    for label, value in (label_descriptions or {}).items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str):
            texts[str(label)] = value
        else:
            vec = np.asarray(value, dtype=np.float32).ravel()
            if vec.shape != (dim,):
                raise ValueError(f"description vector for label {label!r} has shape {vec.shape}, expected ({dim},)")
            vectors[str(label)] = vec
    if texts:
        if encoder is None:
            raise ValueError("label_descriptions holds text; pass encoder= (an Encoder) or embedding vectors instead")
        encoded = encoder.encode(list(texts.values()))
        vectors.update(dict(zip(texts, encoded, strict=True)))
    return vectors
