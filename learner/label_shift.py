"""Thresholds for a stated deployment class mix (label shift).

Precision depends on how often each class occurs: a threshold that keeps a label's predictions at
precision 0.9 among the tuning rows (the labeled rows, whose class mix active learning chose) can
fall short where the label's confusers are more frequent. Under label shift p(x | y) stays the
same and only the class mix changes, so weighting each tuning row by ``q(y) / p_tuning(y)``
(p_tuning being the tuning rows' own weighted mix) makes the weighted counts of kept right and
wrong predictions unbiased for those at mix q, and their ratio a consistent estimate of precision
at q. The confidence bounds then work on effective counts of the weighted rows
(``learner.thresholds``: the smaller of Kish's and the linearised-variance count, since a mix can
make the wrong predictions the heavy rows), so the price of a mix far from the tuning rows' is
wider bounds. Served probabilities and argmax do not change.

- ``estimate_class_mix``: the Saerens–Latinne–Decaestecker EM estimate of the class mix of
  unlabeled rows scored by a model calibrated at a known training mix.
- ``fit_prior_bias``: per-class log offsets that make held-out probabilities calibrated at the
  tuning rows' mix (bias-corrected calibration, Alexandari et al. 2020). Class-weighted heads
  (``weighting="inverse"``) produce probabilities closer to a uniform prior than to the labeled
  mix, and temperature scaling does not move per-class offsets; EM needs posteriors calibrated at
  the prior it is given, so the offsets are fitted on the held-out labeled rows first.
- ``resolve_mix`` / ``mix_weights``: the mix a ``TrainConfig.threshold_mix`` setting names
  ("labeled", "pool", "uniform" or {label: share}) and the tuning-row weights that realise it.

Django-free: numpy and scipy only (scipy imported by ``fit_prior_bias``: it is heavy, and every
process imports this module through the project model's mix setting).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from learner.calibration import log_softmax

MIX_MODES = ("labeled", "pool", "uniform")
EM_TOL = 1e-6          # stop when no class share moves by more than this
EM_MAX_ITER = 1000
BIAS_L2 = 1.0          # ridge on the per-class log offsets (a few tuning rows cannot push one far)
MIN_UNLABELED = 50     # fewer unlabeled rows than this: no EM estimate ("pool" falls back to "labeled")


def estimate_class_mix(proba, train_prior, *, sample_weight=None, tol: float = EM_TOL,
                       max_iter: int = EM_MAX_ITER) -> tuple[np.ndarray, dict]:
    """EM estimate of the class mix of the rows behind ``proba`` (Saerens, Latinne & Decaestecker,
    Neural Computation 2002).

    ``proba``: (n, k) posteriors of a model calibrated at class mix ``train_prior`` (k shares).
    Repeats: reweight each row's posterior by q(y) / train_prior(y) and renormalise; q ← the
    (weighted) mean of the reweighted posteriors. Each step raises the likelihood of the rows
    under the mix, so the estimate converges (to the maximum-likelihood mix when the posteriors
    are calibrated). Classes with no training share cannot be reweighted and stay at 0; a class
    no row gives any probability goes to 0; rows whose posterior mass lies only on such classes
    are left out. Returns (q, info) with info: iterations, converged, max_change (last step),
    log_likelihood_gain (mean per row, against ``train_prior``), rows_used."""
    P = np.asarray(proba, dtype=np.float64)
    prior = np.asarray(train_prior, dtype=np.float64).reshape(-1)
    if P.ndim != 2 or P.shape[1] != len(prior):
        raise ValueError(f"proba has shape {P.shape}; expected (n, {len(prior)}) for {len(prior)} prior shares")
    if np.any(prior < 0) or prior.sum() <= 0 or not np.all(np.isfinite(P)) or np.any(P < 0):
        raise ValueError("train_prior must be non-negative with a positive sum; proba finite and non-negative")
    prior = prior / prior.sum()
    w = np.ones(len(P)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    live = prior > 0
    P = np.where(live, P, 0.0)
    mass = P.sum(axis=1)
    rows = (mass > 0) & (w > 0)
    P, w = P[rows] / mass[rows, None], w[rows]
    q = prior.copy()
    info = {"iterations": 0, "converged": True, "max_change": 0.0, "log_likelihood_gain": 0.0,
            "rows_used": int(rows.sum())}
    if len(P) == 0:
        info["converged"] = False
        return q, info
    ratio = np.zeros_like(prior)
    change = np.inf
    share = w / w.sum()
    for it in range(1, max_iter + 1):
        ratio[live] = q[live] / prior[live]
        # the weighted mean of the reweighted posteriors, as one product: Σ_i (w_i / total_i) · P_i · ratio
        total = P @ ratio
        new = (np.divide(share, total, out=np.zeros_like(total), where=total > 0) @ P) * ratio
        new = new / new.sum()
        change = float(np.max(np.abs(new - q)))
        q = new
        info["iterations"] = it
        if change <= tol:
            break
    ratio[live] = q[live] / prior[live]
    gain = np.log(np.maximum((P * ratio).sum(axis=1), 1e-300))
    info.update(converged=bool(change <= tol), max_change=change,
                log_likelihood_gain=float(np.average(gain, weights=w)))
    return q, info


def fit_prior_bias(proba, y_idx, sample_weight=None, *, l2: float = BIAS_L2) -> np.ndarray:
    """Per-class log offsets b (length k) so that softmax(log proba + b) has the largest
    (weighted) likelihood of the labels ``y_idx`` on these held-out rows, with a ridge ``l2`` ·
    |b|². At the optimum (without the ridge) the mean adjusted posterior of each class equals its
    share of the rows: the probabilities become calibrated at the rows' own mix, which is what
    ``estimate_class_mix`` needs as its ``train_prior``."""
    P = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y_idx, dtype=int)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    k = P.shape[1]
    if len(y) == 0 or w.sum() <= 0:
        return np.zeros(k)
    logp = np.log(np.clip(P, 1e-12, None))
    onehot = np.zeros_like(P)
    onehot[np.arange(len(y)), y] = 1.0
    w = w / w.sum() * len(y)

    def loss(b):
        ls = log_softmax(logp + b)
        value = -(w * ls[np.arange(len(y)), y]).sum() + l2 * (b @ b)
        grad = (w[:, None] * (np.exp(ls) - onehot)).sum(axis=0) + 2 * l2 * b
        return value, grad

    from scipy.optimize import minimize  # heavy: only when fitting

    return minimize(loss, np.zeros(k), jac=True, method="L-BFGS-B").x


def adjust_proba(proba, bias) -> np.ndarray:
    """softmax(log proba + bias)."""
    return np.exp(log_softmax(np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, None)) + bias))


def tuning_mix(y_idx, sample_weight, k: int) -> np.ndarray:
    """The (weighted) class shares of the tuning rows."""
    counts = np.bincount(np.asarray(y_idx, dtype=int), weights=np.asarray(sample_weight, dtype=np.float64),
                         minlength=k)
    return counts / counts.sum() if counts.sum() > 0 else counts


def check_mix_setting(setting) -> None:
    """``TrainConfig.threshold_mix``: one of MIX_MODES or {label: share >= 0} with a positive sum."""
    if isinstance(setting, str):
        if setting not in MIX_MODES:
            raise ValueError(f"training option threshold_mix={setting!r} is not one of {MIX_MODES} "
                             "or a {label: share} mapping")
        return
    if not isinstance(setting, dict) or not setting:
        raise ValueError(f"threshold_mix must be one of {MIX_MODES} or a non-empty {{label: share}} mapping, "
                         f"got {setting!r}")
    try:
        shares = [float(v) for v in setting.values()]
    except (TypeError, ValueError):
        raise ValueError(f"threshold_mix shares must be numbers, got {setting!r}") from None
    if any(not np.isfinite(s) or s < 0 for s in shares) or sum(shares) <= 0:
        raise ValueError(f"threshold_mix shares must be finite, non-negative and add up to more than 0: {setting!r}")


def resolve_mix(setting, classes: Sequence[str], y_idx, sample_weight, *, heldout_proba=None,
                unlabeled_proba=None, pool_counts: tuple[int, int] | None = None) -> tuple[np.ndarray | None, dict]:
    """The class mix thresholds are chosen for, as shares over ``classes``, and a report.

    - "labeled": None (the tuning rows' own mix: no reweighting).
    - "uniform": every class with tuning rows equally often.
    - {label: share}: as stated, normalised over the classes with tuning rows; every such class
      must be named (0 allowed), a named label with no tuning row is reported and left out.
    - "pool": the EM estimate (``estimate_class_mix``) over ``unlabeled_proba`` (calibrated
      probabilities of unlabeled rows), after ``fit_prior_bias`` on ``heldout_proba`` (the tuning
      rows' out-of-fold probabilities) makes them calibrated at the tuning mix. Fewer than
      ``MIN_UNLABELED`` unlabeled rows, or no convergence: falls back to "labeled", with the reason.
      ``pool_counts`` = (labeled rows, unlabeled rows the sample was drawn from uniformly): the
      pool is both, so its mix is the count-weighted average of the tuning mix and the estimate
      (active learning took rare labels out of the unlabeled rows; the labeled rows hold them).
    Classes without tuning rows (e.g. known only by name) get share 0: no row can carry them.
    The report: setting, used ("labeled" / "pool" / "uniform" / "stated"), source (how the mix
    was obtained), reason (for a fallback), shares ({label: share} of the mix used, None for
    "labeled"), tuning_shares, and for "pool" the EM details."""
    k = len(classes)
    y_idx = np.asarray(y_idx, dtype=int)
    w = np.asarray(sample_weight, dtype=np.float64)
    p = tuning_mix(y_idx, w, k)
    present = p > 0
    report = {"setting": setting if isinstance(setting, str) else "stated", "used": "labeled",
              "source": "the tuning rows' own class mix (the labeled rows, as chosen for labeling)",
              "reason": None, "shares": None,
              "tuning_shares": {c: float(s) for c, s in zip(classes, p, strict=True) if s > 0}}
    check_mix_setting(setting)
    if setting == "labeled" or not present.any():
        return None, report
    if setting == "uniform":
        q = present / present.sum()
        report.update(used="uniform", source="every label with tuning rows equally often (stated)")
    elif isinstance(setting, dict):
        named = {str(k_): float(v) for k_, v in setting.items()}
        missing = [c for c, ok in zip(classes, present, strict=True) if ok and c not in named]
        if missing:
            raise ValueError(f"threshold_mix names no share for labels with tuning rows: {missing[:10]}")
        q = np.array([named.get(c, 0.0) if ok else 0.0 for c, ok in zip(classes, present, strict=True)])
        if q.sum() <= 0:
            raise ValueError("threshold_mix gives every label with tuning rows a share of 0")
        q = q / q.sum()
        dropped = sorted(set(named) - {c for c, ok in zip(classes, present, strict=True) if ok})
        report.update(used="stated", source="shares stated in the training options",
                      reason=f"labels with no tuning row left out: {dropped[:10]}" if dropped else None)
        report["setting"] = "stated"
    else:  # "pool"
        n = 0 if unlabeled_proba is None else len(unlabeled_proba)
        if n < MIN_UNLABELED or heldout_proba is None:
            report["reason"] = (f"no unlabeled rows to estimate the pool's class mix from ({n}; need "
                                f"{MIN_UNLABELED}): thresholds hold at the labeled rows' mix")
            return None, report
        cols = np.flatnonzero(present)
        index = -np.ones(k, dtype=int)
        index[cols] = np.arange(len(cols))
        held = np.asarray(heldout_proba, dtype=np.float64)[:, cols]
        bias = fit_prior_bias(held / held.sum(axis=1, keepdims=True), index[y_idx], w)
        unl = np.asarray(unlabeled_proba, dtype=np.float64)[:, cols]
        unl = unl / np.clip(unl.sum(axis=1, keepdims=True), 1e-300, None)
        est, info = estimate_class_mix(adjust_proba(unl, bias), p[cols])
        if not info["converged"]:
            report["reason"] = (f"the class-mix estimate did not converge in {info['iterations']} steps: "
                                "thresholds hold at the labeled rows' mix")
            report["em"] = info
            return None, report
        q = np.zeros(k)
        q[cols] = est
        source = (f"estimated from {n} unlabeled rows by EM over the model's calibrated probabilities "
                  "(prior offsets fitted on the held-out labeled rows)")
        if pool_counts is not None:
            n_labeled, n_unlabeled = (max(int(c), 0) for c in pool_counts)
            if n_labeled + n_unlabeled > 0:
                q = (n_labeled * p + n_unlabeled * q) / (n_labeled + n_unlabeled)
                source += f", combined with the labeled rows' mix ({n_labeled} labeled, {n_unlabeled} unlabeled)"
            report["pool_counts"] = [n_labeled, n_unlabeled]
        report.update(used="pool", em=info, unlabeled_rows=int(n), source=source)
    report["shares"] = {c: float(s) for c, s, ok in zip(classes, q, present, strict=True) if ok}
    return q, report


def mix_weights(y_idx, sample_weight, mix) -> np.ndarray:
    """Tuning-row weights that give the rows class mix ``mix``: w · mix(y) / p_tuning(y)."""
    y_idx = np.asarray(y_idx, dtype=int)
    w = np.asarray(sample_weight, dtype=np.float64)
    if mix is None:
        return w
    mix = np.asarray(mix, dtype=np.float64)
    p = tuning_mix(y_idx, w, len(mix))
    ratio = np.divide(mix, p, out=np.zeros_like(mix), where=p > 0)
    return w * ratio[y_idx]
