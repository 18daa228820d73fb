"""Likely mislabeled items among the labeled ones, found with cleanlab's confident learning on
out-of-fold probabilities.

The probabilities must come from models that did not train on the row they score (out of fold):
a model that saw a wrong label has partly learnt it, and the row no longer looks suspicious.
cleanlab estimates the joint distribution of given and true labels from those probabilities and
flags rows whose given label is improbable beyond what that noise estimate allows
(``filter_by="prune_by_noise_rate"``, cleanlab's default); the flagged rows are ranked by
self-confidence, the out-of-fold probability of the given label, lowest first.

With a two-level taxonomy a given label can be right at its level while another class holds the
probability: an item answered only at the coarse level ("account", a class of its own) is right
when the models put it in one of its fine labels ("login"), and a fine answer is right when they
put it in the class of its coarse label. ``branches`` names, per given label, the columns that
agree with it; such a row's self-confidence is their summed probability, it is suggested none of
them, and cleanlab's flag stands only when the best label outside them is more probable than they
are together (the models prefer another branch, not merely another level of the same one).

Django-free: numpy and cleanlab (which brings pandas, pyarrow and datasets) only; cleanlab is
imported inside ``find_label_issues``, as the library does with its other heavy dependencies, so
the processes that import this module to schedule a scan (the web process, every worker) do not
load it at start-up.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")


def find_label_issues(
    y_idx,
    oof_proba,
    classes: Sequence[str],
    *,
    filter_by: str = "prune_by_noise_rate",
    max_issues: int | None = None,
    branches: Mapping[int, Sequence[int]] | None = None,
) -> list[dict]:
    """Flagged rows, most suspicious first, each: index (row in the input), given_label,
    suggested_label (the most probable other label), self_confidence (out-of-fold probability of
    the given label), suggested_confidence, and reason (one sentence for the review queue).

    ``y_idx``: the given label per row as a column index of ``oof_proba``; ``oof_proba``: (n,
    len(classes)) out-of-fold probabilities, rows summing to 1. Fewer than two labels, or a
    label given to fewer than two rows, leave too little for a noise estimate: such rows are
    never flagged (the whole set, when fewer than two labels are in use). Invalid input
    raises ValueError naming the field and row.

    ``branches``: given column → the columns that agree with it (its own, its coarse label's
    class, its fine labels'); a column not named agrees with itself only."""
    y_idx, proba = _validate(y_idx, oof_proba, classes, filter_by, max_issues)
    agree = _branches(branches, len(classes))
    used, counts = np.unique(y_idx, return_counts=True)
    usable = used[counts >= 2]
    if len(usable) < 2:
        return []
    rows = np.flatnonzero(np.isin(y_idx, usable))
    # cleanlab wants labels 0..m-1 all present: restrict to the labels in use and renormalise
    local = np.searchsorted(usable, y_idx[rows])
    sub = proba[np.ix_(rows, usable)]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    import cleanlab.filter  # heavy (pandas, pyarrow, datasets): only when a scan flags rows

    flagged = cleanlab.filter.find_label_issues(local, sub, filter_by=filter_by,
                                                return_indices_ranked_by="self_confidence", n_jobs=1)
    issues = []
    for j in flagged:
        i = int(rows[j])
        given = int(y_idx[i])
        own = agree.get(given, [given])
        others = proba[i].copy()
        others[own] = -1.0
        suggested = int(np.argmax(others))
        confidence = float(proba[i, own].sum())
        if len(own) > 1 and proba[i, suggested] <= confidence:
            continue  # the models put it in the given label's branch: right at its level
        branch = " (its branch: with " + ", ".join(repr(classes[c]) for c in own if c != given) + ")" if len(own) > 1 else ""
        issues.append({
            "index": i,
            "given_label": classes[given],
            "suggested_label": classes[suggested],
            "self_confidence": confidence,
            "suggested_confidence": float(proba[i, suggested]),
            "reason": (f"labeled {classes[given]!r}, but out-of-fold models give it {confidence:.2f}{branch} "
                       f"and {classes[suggested]!r} {proba[i, suggested]:.2f}"),
        })
    issues.sort(key=lambda issue: issue["self_confidence"])  # stable: cleanlab's order among equals
    return issues[:max_issues]


def _branches(branches, k: int) -> dict[int, list[int]]:
    """``branches`` checked: given column → its agreeing columns, its own first and no repeats."""
    out = {}
    for given, columns in (branches or {}).items():
        cols = [given, *columns]
        bad = [c for c in cols if not isinstance(c, int | np.integer) or not 0 <= c < k]
        if bad:
            raise ValueError(f"branches[{given!r}] names {bad[0]!r}, not a column of oof_proba (0..{k - 1})")
        out[int(given)] = list(dict.fromkeys(int(c) for c in cols))
    return out


def _validate(y_idx, oof_proba, classes, filter_by, max_issues):
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}")
    if max_issues is not None and (not isinstance(max_issues, int | np.integer) or max_issues < 0):
        raise ValueError(f"max_issues must be a non-negative integer or None, got {max_issues!r}")
    y_idx = np.asarray(y_idx).reshape(-1)
    proba = np.asarray(oof_proba, dtype=np.float64)
    n, k = len(y_idx), len(classes)
    if proba.shape != (n, k):
        raise ValueError(f"oof_proba has shape {proba.shape}, expected ({n}, {k}) (rows, classes)")
    if n and not np.issubdtype(y_idx.dtype, np.integer):
        raise ValueError(f"y_idx must hold column indices (integers), got dtype {y_idx.dtype}")
    y_idx = y_idx.astype(int)
    bad = np.flatnonzero((y_idx < 0) | (y_idx >= k))
    if bad.size:
        raise ValueError(f"y_idx[{bad[0]}] = {y_idx[bad[0]]} is not a column of oof_proba (0..{k - 1})")
    bad = np.flatnonzero(~np.all(np.isfinite(proba) & (proba >= 0), axis=1))
    if bad.size:
        raise ValueError(f"oof_proba row {bad[0]} has a negative or non-finite value")
    bad = np.flatnonzero(np.abs(proba.sum(axis=1) - 1.0) > 1e-3)
    if bad.size:
        raise ValueError(f"oof_proba row {bad[0]} sums to {proba[bad[0]].sum():.4f}, not 1")
    return y_idx, proba
