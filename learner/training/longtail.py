"""Where the long-tail "Other" bucket is in a trained model, for the report and the choices.

The bucket is an ``OtherBucketHead`` wherever the structure put one: the whole model (flat), the
fine head of each coarse group (coarse → fine), or both the flat part and the coarse groups
(blend). ``bucket_heads`` walks composite heads through their ``inner_heads()`` and finds them all,
so a new composite head only has to name its inner heads.

Django-free.
"""
from __future__ import annotations

from learner.heads.other_bucket import OtherBucketHead


def bucket_heads(model, path: str = "") -> list[tuple[str, OtherBucketHead]]:
    """(part, head) for every Other-bucket head in ``model``, itself included. ``part`` is the path
    of inner-head names, e.g. "flat", "fine:money", "coarse_then_fine/fine:money"; "" for
    ``model`` itself."""
    if isinstance(model, OtherBucketHead):
        return [(path, model)]
    inner = getattr(model, "inner_heads", None)
    if inner is None:
        return []
    found = []
    for name, head in inner().items():
        found.extend(bucket_heads(head, f"{path}/{name}" if path else name))
    return found


def longtail_report(model, min_examples: int) -> dict | None:
    """``report["longtail"]``: the labels bucketed anywhere in ``model`` (``other_labels``) and
    those present only as descriptions, plus, for a composite model, ``parts``: each part that
    buckets labels and which (e.g. the flat part and each coarse group). None without a bucket."""
    heads = bucket_heads(model)
    if not heads:
        return None
    parts = None
    if [part for part, _ in heads] != [""]:
        parts = {part: {"other_labels": list(head.rare_labels_),
                        "description_only_labels": list(head.description_labels_)}
                 for part, head in heads if head.rare_labels_ or head.description_labels_}
    return {"min_examples": min_examples,
            "other_labels": sorted({label for _, head in heads for label in head.rare_labels_}),
            "description_only_labels": sorted({label for _, head in heads for label in head.description_labels_}),
            "parts": parts}


def other_bucket_choice(min_examples: int, longtail: dict | None) -> dict | None:
    """``choices["other_bucket"]``: the threshold, how many labels are bucketed (anywhere) and,
    for a composite model, how many in each part."""
    if min_examples <= 0:
        return None
    parts = (longtail or {}).get("parts")
    return {"min_examples": min_examples, "labels": len(longtail["other_labels"]) if longtail else 0,
            "parts": None if parts is None else {part: len(v["other_labels"]) for part, v in parts.items()}}
