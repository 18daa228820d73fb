"""Inter-annotator agreement for double-labeled items. Pure Python: no Django.

Input is a list of pairs ``(first_answer, second_answer)``, one per pair of annotators who
labeled the same item (any hashable label ids). Cohen's kappa treats "first" and "second" as
the two raters; with overlap 2 that is the first and the second annotator to answer.

Kappa is ``None`` where it is undefined: no pairs, or chance agreement of 1 (both raters always
gave the same single answer, so there is nothing to agree beyond chance). Raw agreement is ``None``
below ``MIN_N`` pairs (``too_few_pairs`` says so in words), the small-n rule of the pages' κ, AP
and reliability bins: no "100 %" from two pairs.
"""
from collections import Counter
from collections.abc import Hashable, Iterable

from learner.estimates import MIN_N

Pair = tuple[Hashable, Hashable]


def raw_agreement(pairs: Iterable[Pair], *, min_pairs: int = MIN_N) -> float | None:
    """Share of pairs whose two answers are equal; None with fewer than ``min_pairs`` pairs (or none)."""
    pairs = list(pairs)
    return agreement_share(sum(1 for a, b in pairs if a == b), len(pairs), min_pairs=min_pairs)


def agreement_share(agreed: int, pairs: int, *, min_pairs: int = MIN_N) -> float | None:
    """``agreed`` of ``pairs`` as a share; None with fewer than ``min_pairs`` pairs (or none)."""
    return agreed / pairs if pairs >= max(1, min_pairs) else None


def too_few_pairs(pairs: int, min_pairs: int = MIN_N) -> str | None:
    """Why a figure over ``pairs`` pairs is not shown ("3 pairs: fewer than 5"); None from ``min_pairs`` on."""
    if pairs >= min_pairs:
        return None
    return f"{pairs} pair{'' if pairs == 1 else 's'}: fewer than {min_pairs}"


def cohen_kappa(pairs: Iterable[Pair]) -> float | None:
    """Cohen's kappa: (observed − chance agreement) / (1 − chance agreement)."""
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    chance = sum(first[label] * second.get(label, 0) for label in first) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def per_label_kappa(pairs: Iterable[Pair], labels: Iterable[Hashable]) -> dict[Hashable, float | None]:
    """One-vs-rest kappa per label: do the two raters agree on "is it this label or not"?

    Same as ``cohen_kappa([(a == label, b == label) for a, b in pairs])`` for each label, computed
    from counts in O(pairs + labels) so hundreds of labels stay cheap."""
    pairs = list(pairs)
    n = len(pairs)
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    both = Counter(a for a, b in pairs if a == b)
    result: dict[Hashable, float | None] = {}
    for label in labels:
        if n == 0:
            result[label] = None
            continue
        yes_a, yes_b, yes_both = first.get(label, 0), second.get(label, 0), both.get(label, 0)
        no_both = n - yes_a - yes_b + yes_both
        observed = (yes_both + no_both) / n
        chance = (yes_a * yes_b + (n - yes_a) * (n - yes_b)) / (n * n)
        result[label] = None if chance >= 1.0 else (observed - chance) / (1.0 - chance)
    return result


def label_support(pairs: Iterable[Pair]) -> Counter:
    """How many answers (either rater) gave each label."""
    support: Counter = Counter()
    for a, b in pairs:
        support[a] += 1
        support[b] += 1
    return support


def map_pairs(pairs: Iterable[Pair], mapping: dict) -> list[Pair]:
    """Pairs with each answer replaced by ``mapping[answer]`` (e.g. fine label → its coarse label)."""
    return [(mapping.get(a, a), mapping.get(b, b)) for a, b in pairs]
