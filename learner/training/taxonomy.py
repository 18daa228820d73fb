"""Which parents and targets a training set can use: the product and the simulation train with
the same restriction, so a simulated retrain is the product's."""
from __future__ import annotations


def restrict_taxonomy(parents: dict[str, str], targets: dict[str, dict], present: set[str]
                      ) -> tuple[dict[str, str], dict[str, dict]]:
    """Parents restricted to the labels ``present`` in a training set, and every target.

    With a two-level taxonomy every training label needs a parent: one answered at the coarse
    level (or a flat label beside the tree) is its own branch. Without any present fine label the
    training is flat (no parents).

    Targets are all kept, also those of labels with no labeled item: the label-name prior (or a
    description) can make such a label predictable, and which labels a model predicts is known only
    once it is trained. Dropping the target there let its predictions through unreviewed; the
    training applies each target to the labels it can predict and notes the others
    (``learner.training.evaluate.split_targets``)."""
    if any(label in parents for label in present):
        parents = {label: parents.get(label, label) for label in present}
    else:
        parents = {}
    return parents, dict(targets)
