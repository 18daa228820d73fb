"""Inter-annotator agreement for double-labeled items: plain Python, numpy and scipy, and Django's
cache for ``kappa_interval``'s figures (see there).

Input is a list of pairs ``(first_answer, second_answer)``, one per pair of annotators who
labeled the same item (any hashable label ids). Cohen's kappa treats "first" and "second" as
the two raters; ``selectors.double_labeled_pairs`` puts the annotator with the lower id first, so
with two annotators it is Cohen's κ between them, and the order never follows answer times (an
answer given again would swap a pair's raters and move κ with no answer changed).

Kappa is ``None`` where it is undefined: no pairs, or chance agreement of 1 (both raters always
gave the same single answer, so there is nothing to agree beyond chance). Raw agreement is ``None``
below ``MIN_N`` pairs (``too_few_pairs`` says so in words), the small-n rule of the pages' κ, AP
and reliability bins: no "100 %" from two pairs. ``kappa_interval`` bounds κ by the bootstrap over
pairs, so a lead sees how little 12 pairs say.
"""
import hashlib
import logging
import math
import warnings
from collections import Counter
from collections.abc import Hashable, Iterable

import numpy as np
import scipy
from django.core.cache import cache
from redis.exceptions import RedisError

from learner.estimates import MIN_N, wilson_interval

log = logging.getLogger(__name__)

Pair = tuple[Hashable, Hashable]
BCA_MAX_PAIRS = 1000
# The dashboard, the agreement API and the review page ask for the interval on every load; its
# bootstrap takes ~0.2 s per 5,000 pairs (twice with coarse labels), while the answers change far
# less often than the pages are loaded. So each figure is kept in Django's cache (Redis in
# production: every web worker shares it) under a digest of the pairs it came from, as coded for
# the bootstrap: new answers make a new key, so a kept figure is never stale (and the figure of
# answers since changed is never read again: a day bounds what the cache holds). 0 turns it off.
INTERVAL_CACHE_SECONDS = 24 * 3600
INTERVAL_CACHE_PREFIX = "kappa_interval:"
# Part of every key, with scipy's version: raise it when the interval's computation changes, so
# figures kept by the old code are not shown.
INTERVAL_METHOD_VERSION = 1


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


def kappa_interval(pairs: Iterable[Pair], *, level: float = 0.95, resamples: int = 2000,
                   seed: int = 0) -> tuple[float, float] | None:
    """A ``level`` interval for Cohen's kappa, by the BCa bootstrap over pairs (each pair is one
    double-labeled item's two answers, the unit that was sampled); scipy's ``stats.bootstrap``.
    None with fewer than ``MIN_N`` pairs or where κ is undefined. Seeded, so a page shows the same
    interval on every load for the same answers.

    BCa, not the plain percentile bootstrap: with 40 simulated pairs the percentile interval fell
    short of the 91 % coverage tests/test_kappa_interval.py requires of a 95 % interval; BCa meets it.
    Above ``BCA_MAX_PAIRS`` the two agree and BCa's jackknife (pairs² work) would slow the pages, so
    the percentile interval over at most 1,000 resamples is used there (under a second for 20,000
    pairs on one core).
    Where every pair agrees, every resample has κ = 1 and the bootstrap says nothing about how low
    κ could be; the lower bound then comes from the Wilson lower bound of the observed agreement
    (κ rises with it at the observed chance agreement).
    Kept in Django's cache under a digest of the pairs (``INTERVAL_CACHE_SECONDS``): the same answers
    give the same figure without a second bootstrap, any changed answer a new key."""
    pairs = list(pairs)
    n = len(pairs)
    if n < MIN_N or cohen_kappa(pairs) is None:
        return None
    codes: dict[Hashable, int] = {}
    first = np.array([codes.setdefault(a, len(codes)) for a, _ in pairs], dtype=np.int64)
    second = np.array([codes.setdefault(b, len(codes)) for _, b in pairs], dtype=np.int64)
    if INTERVAL_CACHE_SECONDS <= 0:
        return _bootstrap_interval(first, second, len(codes), level, resamples, seed)
    key = _interval_key(first, second, level, resamples, seed)
    try:
        kept = cache.get(key)
    except (RedisError, OSError) as exc:  # an unreachable cache costs the page the bootstrap, not an error
        log.warning("kappa interval computed without the cache, it is unreachable: %s", exc)
        return _bootstrap_interval(first, second, len(codes), level, resamples, seed)
    if kept is not None:
        return tuple(kept) or None
    bounds = _bootstrap_interval(first, second, len(codes), level, resamples, seed)
    try:
        cache.set(key, bounds or (), INTERVAL_CACHE_SECONDS)  # () for "no interval": None reads as a miss
    except (RedisError, OSError) as exc:
        log.warning("kappa interval not kept, the cache is unreachable: %s", exc)
    return bounds


def _interval_key(first: np.ndarray, second: np.ndarray, level: float, resamples: int, seed: int) -> str:
    """The cache key of an interval: everything it depends on. The interval is a function of the
    two coded answer columns in pair order (the labels' ids only name the codes; the resamples
    draw pair positions), so the digest covers both columns, every answer of every pair."""
    digest = hashlib.blake2b(first.tobytes() + second.tobytes(), digest_size=20).hexdigest()
    return (f"{INTERVAL_CACHE_PREFIX}v{INTERVAL_METHOD_VERSION}:scipy{scipy.__version__}:{len(first)}:{level!r}:"
            f"{resamples}:{seed}:{BCA_MAX_PAIRS}:{digest}")


def _bootstrap_interval(first: np.ndarray, second: np.ndarray, k: int, level: float, resamples: int,
                        seed: int) -> tuple[float, float] | None:
    """``kappa_interval`` over the pairs coded 0..k-1 (``first[i]``, ``second[i]``: pair i)."""
    n = len(first)
    if (first == second).all():
        chance = float(np.bincount(first, minlength=k) @ np.bincount(second, minlength=k)) / (n * n)
        low_agreement = wilson_interval(1.0, n, confidence=level)[0]
        return max(-1.0, (low_agreement - chance) / (1.0 - chance)), 1.0

    def kappa(a, b, axis=-1):  # scipy passes resamples stacked on the leading axes, pairs on the last
        shape, size = a.shape[:-1], a.shape[-1]
        a, b = a.reshape(-1, size), b.reshape(-1, size)
        offsets = (np.arange(len(a)) * k)[:, None]  # one bincount for every resample at once
        share_a = np.bincount((a + offsets).ravel(), minlength=len(a) * k).reshape(-1, k) / size
        share_b = np.bincount((b + offsets).ravel(), minlength=len(b) * k).reshape(-1, k) / size
        observed = (a == b).mean(axis=-1)
        chance = (share_a * share_b).sum(axis=-1)
        # a resample with one label only has chance 1: κ undefined there, counted as no agreement
        value = np.where(chance < 1.0, (observed - chance) / np.maximum(1.0 - chance, 1e-12), 0.0)
        return value.reshape(shape)

    from scipy import stats  # heavy (scipy.stats): imported where used, not at start-up

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's degenerate-distribution warning: handled below
        # batch: memory stays at a few hundred resamples × pairs however many pairs a project has
        small = n <= BCA_MAX_PAIRS
        result = stats.bootstrap((first, second), kappa, paired=True, vectorized=True,
                                 n_resamples=resamples if small else min(resamples, 1000),
                                 confidence_level=level, method="BCa" if small else "percentile",
                                 random_state=seed, batch=200)
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return float(low), float(high)


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


def label_answers(item_pairs: Iterable[tuple[Hashable, Hashable, Hashable]]) -> Counter:
    """How many answers gave each label, each answer once however many pairs it is in.
    ``item_pairs`` are ``(item, first_answer, second_answer)``: every pair of answers on each item,
    as ``selectors.double_labeled_pairs`` gives them. An item answered n times holds n(n−1)/2 pairs
    and each of its answers sits in n − 1 of them (at overlap 3, two), so a label's sides on the
    item divided by n − 1 are its answers there. Counted from the pairs alone, so the answers of
    deleted accounts (no annotator to tell them apart) count one each too."""
    sides: dict[Hashable, Counter] = {}
    pairs_on: Counter = Counter()
    for item, a, b in item_pairs:
        pairs_on[item] += 1
        on_item = sides.setdefault(item, Counter())
        on_item[a] += 1
        on_item[b] += 1
    answers: Counter = Counter()
    for item, on_item in sides.items():
        others = (math.isqrt(1 + 8 * pairs_on[item]) - 1) // 2  # n − 1 from n(n−1)/2 pairs
        for label, count in on_item.items():
            answers[label] += count // others
    return answers


def map_pairs(pairs: Iterable[Pair], mapping: dict) -> list[Pair]:
    """Pairs with each answer replaced by ``mapping[answer]`` (e.g. fine label → its coarse label)."""
    return [(mapping.get(a, a), mapping.get(b, b)) for a, b in pairs]
