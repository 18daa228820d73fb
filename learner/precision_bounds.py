"""How much evidence a label's precision at a threshold rests on, and how confident each cut's
bound must be so that *choosing* the threshold keeps the stated confidence.

Effective counts: Kish's (Σw)² / Σw², and for a weighted precision the smaller of Kish's and the
linearised-variance count (``precision_effective``).

Why a scan needs its own confidence: a threshold is chosen by scanning every cut of the label's
predictions (highest score first) and keeping the lowest whose one-sided lower bound reaches the
target. Each bound holds at 95 % for one fixed cut, but the scan takes the best of hundreds of
correlated tests. With precision flat at exactly the target, the old per-cut 95 % Wilson bound
passed somewhere for 9 % of labels with 50 predictions and 26 % with 400, so "met with 95 %
confidence" was true far less often than it said (bench/threshold_rule_bench.py,
bench/results/threshold_rule.json). ``scan_confidence`` finds, by simulation under that least
favourable case (every row right with probability = the target, with the label's own weights and
ties), the per-cut confidence at which the whole scan passes by chance with probability at most
1 - ``confidence``: a max-type simultaneous test. Wilson's bound is the inversion of the score
test, so the scan's statistic per cut is (p̂ - p0) · sqrt(n_eff / (p0 (1 - p0))) and the per-cut
confidence is Φ(its (confidence)-quantile of the maximum).

Recall needs no such correction: a label's tuning recall only grows as the threshold falls, so
the scan for the highest threshold whose recall bound holds stops at one crossing.

Django-free: numpy and scipy only.
"""
from __future__ import annotations

import functools
from decimal import ROUND_FLOOR, Decimal

import numpy as np

SCAN_DRAWS = 1000  # null simulations per label: the 95 % quantile's tail share ±0.007
SCAN_SEED = 0  # fixed: the same rows give the same thresholds
_CHUNK_CELLS = 2_000_000  # draws x rows simulated at once (memory: ~16 MB per array)


def short_bound(bound: float) -> str:
    """A lower bound that fell short of its target, as a reason prints it: three places rounded down,
    so that the printed bound is below the target whenever the real one is (0.4996 reads "0.499",
    never "0.500" beside a target of 0.5). Exact decimal rounding: 0.123 stays "0.123"."""
    bound = float(bound)
    return f"{Decimal(repr(bound)).quantize(Decimal('0.001'), rounding=ROUND_FLOOR)}" if np.isfinite(bound) else str(bound)


def kish(total: np.ndarray, total_sq: np.ndarray) -> np.ndarray:
    return np.divide(total**2, total_sq, out=np.zeros_like(total), where=total_sq > 0)


def kish_effective(weights) -> float:
    """(Σw)² / Σw² of ``weights``: how many unweighted rows the weighted rows are worth."""
    w = np.asarray(weights, dtype=np.float64)
    return float(kish(np.array([w.sum()]), np.array([np.sum(w**2)]))[0])


def precision_effective(total, total_sq, hit, hit_sq) -> np.ndarray:
    """Effective count for a weighted precision Σw·h / Σw: the smaller of Kish's (Σw)² / Σw² and
    p(1-p) / the linearised variance Σw²(h-p)² / (Σw)². Kish's count assumes the weights do not
    depend on the outcome; when a class mix makes wrong predictions heavy (a confuser more common
    in traffic than among the tuning rows), one wrong row counts for several right ones and Kish
    overstates the evidence. With equal weights both are the row count."""
    total, total_sq = np.asarray(total, dtype=np.float64), np.asarray(total_sq, dtype=np.float64)
    hit, hit_sq = np.asarray(hit, dtype=np.float64), np.asarray(hit_sq, dtype=np.float64)
    total, total_sq, hit, hit_sq = np.broadcast_arrays(total, total_sq, hit, hit_sq)
    k = kish(total, total_sq)
    p = np.divide(hit, total, out=np.zeros_like(total), where=total > 0)
    spread = hit_sq * (1 - p) ** 2 + np.maximum(total_sq - hit_sq, 0.0) * p**2
    linear = np.divide(p * (1 - p) * total**2, spread, out=np.full_like(total, np.inf), where=spread > 0)
    return np.where((p > 0) & (p < 1), np.minimum(k, linear), k)


def scan_confidence(weights, cut_ok, target: float, confidence: float, *, draws: int = SCAN_DRAWS,
                    seed: int = SCAN_SEED) -> float:
    """Per-cut one-sided confidence for a label's precision bounds such that, were every row right
    with probability exactly ``target``, some cut's bound would reach the target with probability
    at most 1 - ``confidence``. Never below ``confidence`` itself (one cut needs no correction).

    ``weights``: the label's predicted rows' weights in scan order (highest score first);
    ``cut_ok``: which positions are cuts (the last row of each run of equal scores)."""
    w = np.asarray(weights, dtype=np.float64)
    cuts = np.flatnonzero(np.asarray(cut_ok, dtype=bool))
    if len(cuts) <= 1 or not 0.0 < target < 1.0:
        return confidence
    if np.all(w == w[0]):  # the usual case (the labeled rows' own mix): depends on the cuts only
        if len(cuts) == len(w):
            # no ties: cached by the row count rounded up to a 5 % grid. More cuts only add
            # terms to the maximum, so the rounded-up count's confidence is the stricter one.
            return _equal_weights(_rounded_up(len(w)), b"", float(target), float(confidence), draws, seed)
        return _equal_weights(len(w), cuts.tobytes(), float(target), float(confidence), draws, seed)
    return _simulate(w, cuts, target, confidence, draws, seed)


def clear_scan_cache() -> None:
    """Forget the cached equal-weight confidences (a benchmark timing a worker's first retrain)."""
    _equal_weights.cache_clear()


def _rounded_up(n: int) -> int:
    if n <= 40:
        return n
    return max(n, int(np.ceil(1.05 ** np.ceil(np.log(n) / np.log(1.05)) - 1e-9)))


@functools.lru_cache(maxsize=4096)
def _equal_weights(n: int, ties: bytes, target: float, confidence: float, draws: int, seed: int) -> float:
    cuts = np.frombuffer(ties, dtype=np.int64) if ties else np.arange(n)
    return _simulate(np.ones(n), cuts, target, confidence, draws, seed)


def _simulate(w: np.ndarray, cuts: np.ndarray, target: float, confidence: float, draws: int, seed: int) -> float:
    cum_w, cum_w2 = np.cumsum(w)[cuts], np.cumsum(w**2)[cuts]
    equal = bool(np.all(w == w[0]))  # then every effective count is the row count
    scale = 1.0 / np.sqrt(target * (1 - target))
    rng = np.random.default_rng(seed)
    peaks = []
    per_chunk = max(1, _CHUNK_CELLS // len(w))
    for start in range(0, draws, per_chunk):
        hits = rng.random((min(per_chunk, draws - start), len(w))) < target
        if equal:
            count = (cuts + 1).astype(np.float64)
            z = (np.cumsum(hits, axis=1)[:, cuts] / count - target) * np.sqrt(count) * scale
        else:
            tp = np.cumsum(hits * w, axis=1)[:, cuts]
            tp2 = np.cumsum(hits * w**2, axis=1)[:, cuts]
            p = np.divide(tp, cum_w, out=np.zeros_like(tp), where=cum_w > 0)
            n_eff = precision_effective(cum_w, cum_w2, tp, tp2)
            z = (p - target) * np.sqrt(np.where(np.isfinite(n_eff), n_eff, 0.0)) * scale
        peaks.append(z.max(axis=1))
    from scipy.stats import norm  # heavy (scipy.stats): imported where used, not at start-up

    critical = float(np.quantile(np.concatenate(peaks), confidence))
    return max(confidence, float(norm.cdf(critical)))


# Prior rows per label when a project guards its thresholds against unseen confusions: the
# smallest of 1 / 2 / 4 whose thresholds held on at least 90 % of labels on the sibling sets
# (bench/threshold_siblings.py, bench/results/threshold_siblings.json; no test split read).
GUARD_PRIOR_ROWS = 4.0


def unseen_confusion(proba: np.ndarray, y_idx: np.ndarray, w: np.ndarray,
                     prior_rows: float) -> tuple[np.ndarray, np.ndarray]:
    """Per (true class c, predicted label L): the weighted wrong mass a label's precision bound adds
    at a threshold keeping all of L's predictions, for confusions of c into L its rows may not show.

    A class with 7 tuning rows that shows no confusion into L can still send a third of its items
    there; weighting those rows up to a traffic mix multiplies a zero. Each class's rate into L is
    therefore read as (observed + prior_rows · m) / (rows + prior_rows), where m, the mean over
    c's rows of the probability of L where L is the row's runner-up, is the prior guess: the model
    knows which labels look alike even where the rows never crossed. Only the prior part is returned, as
    w_c · prior_rows · m_cL · n_c / (n_c + prior_rows): negligible for well-sampled classes, the
    whole evidence for barely-sampled ones. Returns that mass and the matching sum of squared
    weights (w_c times the mass), both (classes x classes). ``prior_rows`` 0: zeros."""
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    if prior_rows <= 0 or len(y_idx) == 0:
        return np.zeros((k, k)), np.zeros((k, k))
    rows = np.bincount(y_idx, minlength=k).astype(np.float64)
    weight = np.bincount(y_idx, weights=w, minlength=k)
    mean_w = np.divide(weight, rows, out=np.zeros(k), where=rows > 0)
    # only the runner-up: the label a row would go to if it were predicted wrongly. Calibrated
    # probabilities spread a little mass over every label, and summed over many barely-sampled
    # labels that background would swamp the few confusions that matter.
    second = np.argsort(-proba, axis=1)[:, 1] if k > 1 else np.zeros(len(y_idx), dtype=int)
    mass = np.zeros((k, k))
    np.add.at(mass, (y_idx, second), proba[np.arange(len(y_idx)), second])
    m = np.divide(mass, rows[:, None], out=np.zeros((k, k)), where=rows[:, None] > 0)
    out = (mean_w * prior_rows * rows / (rows + prior_rows))[:, None] * m
    np.fill_diagonal(out, 0.0)
    return out, mean_w[:, None] * out
