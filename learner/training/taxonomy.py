"""Which parents and targets a training set can use: the product and the simulation train with
the same restriction, so a simulated retrain is the product's."""
from __future__ import annotations


def restrict_taxonomy(parents: dict[str, str], targets: dict[str, dict], present: set[str]
                      ) -> tuple[dict[str, str], dict[str, dict]]:
    """Parents and targets restricted to the labels ``present`` in a training set.

    With a two-level taxonomy every training label needs a parent: one answered at the coarse
    level (or a flat label beside the tree) is its own branch. Without any present fine label the
    training is flat (no parents). Targets are kept for present labels and their parents."""
    if any(label in parents for label in present):
        parents = {label: parents.get(label, label) for label in present}
    else:
        parents = {}
    usable = present | set(parents.values())
    return parents, {name: t for name, t in targets.items() if name in usable}
