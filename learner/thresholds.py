"""Per-label probability thresholds chosen on validation to meet a precision or recall target.
A prediction whose probability is below its label's threshold becomes "needs review". The label a
threshold applies to is the one the model emits (``emitted``: with a coarse → fine taxonomy, the
decoded label, ``learner.heads.hierarchy.emit``), the argmax where none is given.

``choose_thresholds`` (kept for its callers) picks the threshold whose *point* precision meets the
target on the tuning rows; on fresh data about half of those labels fall short.
``choose_thresholds_with_confidence`` picks the lowest threshold whose precision *lower
confidence bound* (one-sided Wilson on an effective count: the row count, or with sample weights
the smaller of Kish's and the linearised-variance count) meets the target, each cut's bound made
strict enough that the whole scan over cuts keeps the stated confidence (default 95 %;
``learner.precision_bounds.scan_confidence``), honours a precision and a recall target together,
and says why where it cannot.
``cross_fit_thresholds`` chooses on K-1 folds of out-of-fold probabilities and judges "met" on the
held-out fold, so "met" is never judged on the rows that chose the threshold.

Django-free: numpy and scipy only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from learner.estimates import wilson_interval, wilson_lower_bounds
from learner.precision_bounds import kish, precision_effective, scan_confidence, short_bound, unseen_confusion
from learner.splits import group_kfold

UNREACHABLE = 1.0 + 1e-9  # a threshold no probability reaches: every prediction goes to review


def _validate_target(label: str, target: dict) -> tuple[str, float]:
    if not isinstance(target, dict) or len(target) != 1 or next(iter(target)) not in ("precision", "recall"):
        raise ValueError(f"target for label {label!r} must be {{'precision': p}} or {{'recall': r}}, got {target!r}")
    kind, value = next(iter(target.items()))
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{kind} target for label {label!r} must be within [0, 1], got {value}")
    return kind, value


def choose_thresholds(
    proba,
    y_idx,
    classes: Sequence[str],
    targets: dict | None = None,
    sample_weight=None,
) -> tuple[dict[str, float], list[dict]]:
    """Thresholds per label and a report table.

    For a label with ``{"precision": p}``: the lowest threshold t such that, among validation
    rows predicted as that label (top-1) with probability ≥ t, the precision is ≥ p. With
    ``{"recall": r}``: the highest t such that recall (over all true rows of the label) is still
    ≥ r. Labels without a target get 0 (never sent to review). When a target cannot be met the
    threshold is set above 1 (everything predicted as that label goes to review) and ``met`` is
    False; when the label has no validation rows it keeps 0 and ``estimable`` is False.

    Each table row: label, kind, target, threshold, precision, recall, review_share (share of all
    validation traffic predicted as the label but below its threshold), met, estimable.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_idx = np.asarray(y_idx, dtype=int)
    targets = targets or {}
    unknown = sorted(set(targets) - set(classes))
    if unknown:
        raise ValueError(f"targets name labels that are not classes: {unknown[:10]}")
    n = len(y_idx)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = w.sum() if n else 0.0
    top = proba.argmax(axis=1) if n else np.zeros(0, dtype=int)
    top_p = proba.max(axis=1) if n else np.zeros(0)

    thresholds: dict[str, float] = {}
    table: list[dict] = []
    for i, label in enumerate(classes):
        kind, value = _validate_target(label, targets[label]) if label in targets else (None, None)
        predicted = top == i
        scores = top_p[predicted]
        hit = (y_idx[predicted] == i).astype(np.float64)
        wp = w[predicted]
        positives = w[y_idx == i].sum()
        estimable = positives > 0
        threshold = 0.0
        met = True
        if kind is not None and estimable:
            order = np.argsort(-scores, kind="stable")
            s, h, ww = scores[order], hit[order], wp[order]
            cum_tp = np.cumsum(ww * h)
            cum_pred = np.cumsum(ww)
            # Candidate cut after position j keeps rows 0..j; only cut between distinct scores.
            last_of_run = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, bool)
            precision_at = np.divide(cum_tp, cum_pred, out=np.zeros_like(cum_tp), where=cum_pred > 0)
            recall_at = cum_tp / positives
            if kind == "precision":
                ok = np.flatnonzero(last_of_run & (precision_at >= value - 1e-12))
                # lowest threshold = keep the most rows = the largest qualifying cut
                threshold, met = (float(s[ok[-1]]), True) if len(ok) else (UNREACHABLE, False)
            else:
                if value <= 0:
                    threshold = UNREACHABLE if len(s) == 0 else float(s[0])
                else:
                    ok = np.flatnonzero(last_of_run & (recall_at >= value - 1e-12))
                    # highest threshold = keep the fewest rows = the smallest qualifying cut
                    threshold, met = (float(s[ok[0]]), True) if len(ok) else (0.0, False)
        kept = scores >= threshold
        tp = float((wp * hit)[kept].sum())
        kept_w = float(wp[kept].sum())
        table.append({
            "label": label,
            "kind": kind,
            "target": value,
            "threshold": float(threshold),
            "precision": tp / kept_w if kept_w > 0 else None,
            "recall": tp / positives if positives > 0 else None,
            "review_share": float(wp[~kept].sum() / total) if total > 0 else 0.0,
            "met": bool(met),
            "estimable": bool(estimable),
        })
        thresholds[label] = float(threshold)
    return thresholds, table


def _emitted_top(proba: np.ndarray, emitted) -> tuple[np.ndarray, np.ndarray]:
    """(column of the label each row emits, its probability): ``emitted`` when given (-1: a label
    outside this table, e.g. a coarse fallback, no class's prediction), the argmax otherwise."""
    n = len(proba)
    top = (proba.argmax(axis=1) if n else np.zeros(0, dtype=int)) if emitted is None else (
        np.asarray(emitted, dtype=int).reshape(-1))
    if emitted is not None and len(top) != n:
        raise ValueError(f"emitted has {len(top)} entries for {n} rows")
    top_p = np.where(top >= 0, proba[np.arange(n), np.maximum(top, 0)], 0.0) if n else np.zeros(0)
    return top, top_p


def _validate_targets(targets: dict | None, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    """{label: {"precision": p, "recall": r}} with either or both keys, each within [0, 1]."""
    targets = targets or {}
    unknown = sorted(set(targets) - set(classes), key=str)
    if unknown:
        raise ValueError(f"targets name labels that are not classes: {unknown[:10]}")
    out = {}
    for label, target in targets.items():
        if not isinstance(target, dict) or not target or set(target) - {"precision", "recall"}:
            raise ValueError(f"target for label {label!r} must be {{'precision': p}}, {{'recall': r}} or both, "
                             f"got {target!r}")
        out[label] = {}
        for kind, value in target.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = float("nan")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{kind} target for label {label!r} must be within [0, 1], got {target[kind]!r}")
            out[label][kind] = value
    return out


def choose_thresholds_with_confidence(
    proba, y_idx, classes: Sequence[str], targets: dict | None = None, *, confidence: float = 0.95,
    sample_weight=None, unseen_prior_rows: float = 0.0, emitted=None,
) -> tuple[dict[str, float], list[dict]]:
    """Thresholds per label that meet their targets with ``confidence``, and a report table.

    Among the tuning rows predicted as a label (the label the row emits: ``emitted``, a column per
    row, -1 for a row that emits none of ``classes`` such as a coarse fallback; the argmax when
    None), a threshold t keeps those whose probability of it is ≥ t. Precision bound: one-sided Wilson lower bound on the kept rows, at the per-cut
    confidence ``scan_confidence`` gives the label (reported as ``cut_confidence``); recall bound:
    the same on all rows of the label (under ``sample_weight``: ``precision_effective`` and Kish counts).
    - ``{"precision": p}``: the lowest t whose precision bound is ≥ p; none → t above 1 (every
      prediction of the label goes to review), and ``feasible`` False with the reason.
    - ``{"recall": r}``: the highest t whose recall bound is ≥ r; none → t = 0, infeasible.
    - both: the lowest t where both bounds hold; none → precision wins (the precision-only
      threshold, or above 1), infeasible, and the reason says which target failed and why.
    - no target: t = 0. No true row or no predicted row of a label with a target: not estimable
      (a precision target then keeps t above 1: nothing unverified is automated).

    Table row: label, target ({kind: value} or None), threshold, precision, recall (on the tuning
    rows, at the threshold), precision_lower, recall_lower (the bounds), feasible (True / False /
    None without target or when not estimable), reason, review_share, cut_confidence (the per-cut
    confidence of the precision bounds), point_threshold (what the
    point-estimate rule would choose for the precision target) and recall_given_up (tuning recall
    at point_threshold minus at threshold). Nothing here says "met": that needs rows that did not
    choose the threshold (``cross_fit_thresholds``)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    proba = np.asarray(proba, dtype=np.float64)
    y_idx = np.asarray(y_idx, dtype=int)
    targets = _validate_targets(targets, classes)
    n = len(y_idx)
    if proba.shape != (n, len(classes)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({n}, {len(classes)})")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = w.sum() if n else 0.0
    top, top_p = _emitted_top(proba, emitted)
    unseen, unseen_sq = unseen_confusion(proba, y_idx, w, unseen_prior_rows)
    thresholds: dict[str, float] = {}
    table: list[dict] = []
    for i, label in enumerate(classes):
        target = targets.get(label)
        predicted = top == i
        order = np.argsort(-top_p[predicted], kind="stable")
        s, h, ww = top_p[predicted][order], (y_idx[predicted][order] == i).astype(np.float64), w[predicted][order]
        is_pos = y_idx == i
        positives = float(w[is_pos].sum())
        pos_eff = float(kish(np.array([positives]), np.array([np.sum(w[is_pos] ** 2)]))[0])
        cum_tp, cum_w, cum_w2 = np.cumsum(ww * h), np.cumsum(ww), np.cumsum(ww**2)
        cum_tp2 = np.cumsum(ww**2 * h)
        cut_ok = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, bool)  # cut between distinct scores
        precision_at = np.divide(cum_tp, cum_w, out=np.zeros_like(cum_tp), where=cum_w > 0)
        recall_at = cum_tp / positives if positives > 0 else np.zeros_like(cum_tp)
        # the scan over every cut is one test: each cut's bound is made stricter until a label
        # whose precision is exactly the target passes somewhere with at most 1 - confidence
        want = (target or {}).get("precision")
        cut_confidence = (scan_confidence(ww, cut_ok, want, confidence) if want is not None and len(s)
                          else confidence)
        # wrong predictions the tuning rows of barely-sampled labels may not show, in proportion
        # to the share of the label's predictions kept (learner.precision_bounds.unseen_confusion)
        kept_share = np.arange(1, len(s) + 1) / len(s) if len(s) else np.zeros(0)
        extra, extra_sq = kept_share * unseen[:, i].sum(), kept_share * unseen_sq[:, i].sum()
        bounded_at = np.divide(cum_tp, cum_w + extra, out=np.zeros_like(cum_tp), where=cum_w + extra > 0)
        prec_lo = wilson_lower_bounds(bounded_at, precision_effective(cum_w + extra, cum_w2 + extra_sq, cum_tp,
                                                                      cum_tp2), cut_confidence)
        rec_lo = wilson_lower_bounds(recall_at, np.full(len(s), pos_eff), confidence)
        threshold, feasible, reason, cut, point_cut = 0.0, None, None, None, None
        if target is None:
            reason = "no target"
        elif positives <= 0 or len(s) == 0:
            what = "no tuning row of" if positives <= 0 else "no tuning row predicted as"
            reason = f"not estimable: {what} {label!r}"
            threshold = UNREACHABLE if "precision" in target else 0.0
        else:
            want_p, want_r = target.get("precision"), target.get("recall")
            ok_p = cut_ok & (prec_lo >= want_p - 1e-12) if want_p is not None else cut_ok
            ok_r = cut_ok & (rec_lo >= want_r - 1e-12) if want_r is not None else cut_ok
            both = np.flatnonzero(ok_p & ok_r)
            if want_p is not None:
                point = np.flatnonzero(cut_ok & (precision_at >= want_p - 1e-12))
                point_cut = int(point[-1]) if len(point) else None
            feasible = len(both) > 0
            if feasible:
                cut = int(both[-1]) if want_p is not None else int(both[0])
            elif want_p is not None:
                only_p = np.flatnonzero(ok_p)
                cut = int(only_p[-1]) if len(only_p) else None
                best = int(np.argmax(np.where(cut_ok, prec_lo, -1)))
                if cut is None:
                    reason = (f"precision ≥ {want_p} is not reached with {confidence:.0%} confidence at any threshold "
                              f"(best lower bound {short_bound(prec_lo[best])} from {int(round(cum_w[best]))} kept rows); "
                              f"every prediction of {label!r} goes to review")
                else:
                    reason = (f"precision ≥ {want_p} needs threshold ≥ {s[cut]:.4f}, where recall is "
                              f"{recall_at[cut]:.3f} (lower bound {short_bound(rec_lo[cut])}) < the recall target {want_r}; "
                              f"the precision target wins")
            else:
                reason = (f"recall ≥ {want_r} is not reached with {confidence:.0%} confidence even at threshold 0 "
                          f"(recall {recall_at[-1]:.3f}, lower bound {short_bound(rec_lo[-1])}, {pos_eff:.0f} positives)")
            threshold = float(s[cut]) if cut is not None else (UNREACHABLE if want_p is not None else 0.0)
        kept = cut + 1 if cut is not None else (len(s) if threshold <= 0 else 0)
        kept_w = float(cum_w[kept - 1]) if kept else 0.0
        tp = float(cum_tp[kept - 1]) if kept else 0.0
        point_recall = float(recall_at[point_cut]) if point_cut is not None else None
        table.append({
            "label": label, "target": target, "threshold": float(threshold),
            "precision": tp / kept_w if kept_w > 0 else None,
            "recall": tp / positives if positives > 0 else None,
            "precision_lower": float(prec_lo[kept - 1]) if kept else None,
            "recall_lower": float(rec_lo[kept - 1]) if kept else None,
            "feasible": feasible, "reason": reason,
            "review_share": float((cum_w[-1] - kept_w) / total) if total > 0 and len(s) else 0.0,
            "cut_confidence": float(cut_confidence),
            "unseen_confusion": float(extra[kept - 1] / (cum_w[kept - 1] + extra[kept - 1])) if kept else None,
            "point_threshold": float(s[point_cut]) if point_cut is not None else None,
            "recall_given_up": (point_recall - tp / positives) if point_recall is not None and positives > 0 else None,
        })
        thresholds[label] = float(threshold)
    return thresholds, table


def cross_fit_thresholds(
    proba, y_idx, classes: Sequence[str], targets: dict | None = None, *, folds=5, confidence: float = 0.95,
    sample_weight=None, groups: Sequence | None = None, seed: int = 0, unseen_prior_rows: float = 0.0, emitted=None,
    labeled_weight=None,
) -> tuple[dict[str, float], list[dict]]:
    """Thresholds chosen on all rows, and a table whose "met" is judged only on rows that did not
    choose the threshold. ``emitted``: the column of the label each row emits (see
    ``choose_thresholds_with_confidence``); a threshold applies to, and "met" is judged on, the
    rows that emit its label.

    ``proba`` must be held-out probabilities (out of fold, or a validation split): rows the model
    producing them was not trained on. ``folds`` is a fold id per row, or a number of folds to
    deal with ``learner.splits.group_kfold`` (label-stratified, ``groups`` kept whole, seeded).
    For each fold, thresholds are chosen (``choose_thresholds_with_confidence``) on the other
    folds and applied to it; the held-out counts are pooled over folds.

    Table row: the all-rows chooser's row (threshold, feasible, reason, bounds, ...) plus
    held_out_precision, held_out_precision_ci, held_out_recall, held_out_recall_ci (95 % Wilson,
    Kish counts), held_out_kept (rows auto-accepted across held-out folds), fold_thresholds, with ``labeled_weight``
    (the rows' own) held_out_precision_labeled_mix (the same kept predictions at those weights; None: none kept), and
    met: True / False / None with met_reason. None when there is no target, when the label is not estimable, or when
    no held-out row checked a feasible precision target (every fold's tuning rows infeasible, or no held-out prediction
    reaching its fold's threshold): unverified, its threshold goes above 1 (``unverified_threshold``: the one chosen
    on all rows) and every prediction of the label to review; False when the target is infeasible on all rows (it
    cannot be promised) or the held-out figure falls short."""
    proba = np.asarray(proba, dtype=np.float64)
    y_idx = np.asarray(y_idx, dtype=int)
    n = len(y_idx)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w_lab = w if labeled_weight is None else np.asarray(labeled_weight, dtype=np.float64)
    if len(w) != n or len(w_lab) != n:
        raise ValueError(f"sample_weight and labeled_weight need {n} entries (one per row), got {len(w)} and {len(w_lab)}")
    if isinstance(folds, int | np.integer):
        fold = group_kfold([classes[i] for i in y_idx], groups, int(folds), seed=seed)
    else:
        fold = np.asarray(folds).reshape(-1)
        if len(fold) != n:
            raise ValueError(f"folds has {len(fold)} entries for {n} rows")
    fold_ids = np.unique(fold)
    if len(fold_ids) < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {len(fold_ids)}")
    top, top_p = _emitted_top(proba, emitted)
    thresholds, table = choose_thresholds_with_confidence(proba, y_idx, classes, targets,
                                                          confidence=confidence, sample_weight=w,
                                                          unseen_prior_rows=unseen_prior_rows, emitted=top)
    k = len(classes)
    tp, kept, positives, tp_lab, kept_lab = (np.zeros(k) for _ in range(5))  # *_lab: at the labeled mix
    kept_sq, pos_sq, tp_sq = np.zeros(k), np.zeros(k), np.zeros(k)
    per_fold = []
    for f in fold_ids:
        held = fold == f
        chosen, _ = choose_thresholds_with_confidence(proba[~held], y_idx[~held], classes, targets,
                                                      confidence=confidence, sample_weight=w[~held],
                                                      unseen_prior_rows=unseen_prior_rows, emitted=top[~held])
        per_fold.append(chosen)
        cut = np.array([chosen[c] for c in classes])
        t, y, wh = top[held], y_idx[held], w[held]
        # a row emitting no class of this table (a coarse fallback) is no prediction of any of them
        accepted = (t >= 0) & (top_p[held] >= cut[np.maximum(t, 0)])
        hit = accepted & (t == y)
        tp += np.bincount(t[hit], weights=wh[hit], minlength=k)
        kept += np.bincount(t[accepted], weights=wh[accepted], minlength=k)
        kept_sq += np.bincount(t[accepted], weights=wh[accepted] ** 2, minlength=k)
        tp_sq += np.bincount(t[hit], weights=wh[hit] ** 2, minlength=k)
        positives += np.bincount(y, weights=wh, minlength=k)
        pos_sq += np.bincount(y, weights=wh**2, minlength=k)
        tp_lab += np.bincount(t[hit], weights=w_lab[held][hit], minlength=k)
        kept_lab += np.bincount(t[accepted], weights=w_lab[held][accepted], minlength=k)
    kept_eff, pos_eff = precision_effective(kept, kept_sq, tp, tp_sq), kish(positives, pos_sq)
    for i, row in enumerate(table):
        precision = tp[i] / kept[i] if kept[i] > 0 else None
        recall = tp[i] / positives[i] if positives[i] > 0 else None
        row.update(
            held_out_precision=precision,
            held_out_precision_ci=list(wilson_interval(precision, kept_eff[i])) if precision is not None else None,
            held_out_recall=recall,
            held_out_recall_ci=list(wilson_interval(recall, pos_eff[i])) if recall is not None else None,
            held_out_kept=float(kept[i]),
            fold_thresholds=[per_fold[j][row["label"]] for j in range(len(fold_ids))],
        )
        if labeled_weight is not None:
            row["held_out_precision_labeled_mix"] = tp_lab[i] / kept_lab[i] if kept_lab[i] > 0 else None
        if row["feasible"] and "precision" in row["target"] and precision is None:
            # no held-out row checked the threshold: as for a label not estimable, nothing unverified is
            # automated, so every prediction of the label goes to review (the rows say at which threshold)
            row.update(unverified_threshold=row["threshold"], threshold=UNREACHABLE, precision=None,
                       recall=0.0 if row["recall"] is not None else None, precision_lower=None, recall_lower=None,
                       review_share=float(w[top == i].sum() / w.sum()), unseen_confusion=None,
                       recall_given_up=None if row["recall_given_up"] is None else row["recall_given_up"] + row["recall"])
            thresholds[row["label"]] = UNREACHABLE
        row["met"], row["met_reason"] = _judge(row, precision, recall)
    return thresholds, table


def _judge(row: dict, precision: float | None, recall: float | None) -> tuple[bool | None, str]:
    target = row["target"]
    if target is None:
        return None, "no target"
    if row["feasible"] is None:
        return None, row["reason"]
    if row["feasible"] is False:
        return False, f"infeasible: {row['reason']}"
    if "unverified_threshold" in row:
        why = (f"precision ≥ {target['precision']} was reachable on all tuning rows but on no fold's tuning rows"
               if all(t >= UNREACHABLE for t in row["fold_thresholds"]) else
               f"no held-out prediction of {row['label']!r} reached its fold's threshold")
        return None, (f"unverified: {why}, so no held-out row checked the threshold {row['unverified_threshold']:.4f}; "
                      f"every prediction of {row['label']!r} goes to review")
    shortfalls = []  # feasible: every figure is computed (a positive lies in some held-out fold, a row was kept)
    for kind, value in target.items():
        held = precision if kind == "precision" else recall
        if held is None:  # not expected (see above); said rather than raised
            return None, f"{kind} not estimable on held-out folds"
        if held < value - 1e-12:
            shortfalls.append(f"held-out {kind} {held:.3f} < {value}")
    if shortfalls:
        return False, "; ".join(shortfalls)
    return True, "held-out " + ", ".join(
        f"{kind} {precision if kind == 'precision' else recall:.3f} ≥ {value}" for kind, value in target.items())
