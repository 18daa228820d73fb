"""Where the test-split calibration error of ``simulate``'s models comes from, per wave, from the
runs ``bench/calibration_capture.py`` kept (the product's own models, their out-of-fold logits
and their raw logits on the test split and the pool). For every wave's model:

- ``ece``: top-label ECE (15 bins) on the test split with the product's calibration (as
  ``simulate`` reports it) and ``ece_pool_mix`` with the test rows weighted to the pool's label
  mix (the part from the label-mix difference is the gap);
- ``floor``: the ECE a perfectly calibrated model with these same probabilities would show on a
  test split of this size (labels drawn from the model's own probabilities, mean of 30 draws):
  the binning noise of the metric itself; ``boot_se``: bootstrap standard error of the ECE over
  test rows (100 resamples);
- ``oracle_t``: the temperature chosen on the test split itself (the lowest ECE over a grid of
  0.1-10) and the ECE it reaches (a floor for any temperature), also on the pool's mix;
- ``unseen``: share of test rows whose label the model never saw (always wrong);
- candidate calibrators fitted only on what the product has (out-of-fold logits of labeled rows,
  the fold models' and the served model's logits on unlabeled pool rows): their temperature and
  test / pool-mix ECE, and ``ece_unlabeled``: their ECE on the pool rows not labeled at that
  wave (labels only the oracle knows), a dev judge for choosing a calibrator without the test
  split (also the product's ``confidence_minus_accuracy_unlabeled`` and ``macro_f1_unlabeled``).

Writes bench/results/calibration_diagnosis.json (``--tag`` appended).

    python bench/calibration_diagnosis.py [--capture /tmp/calib_capture2] [--tag ""]
"""
import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.calibration import fit_temperature, matched_temperature, softmax  # noqa: E402
from learner.metrics import expected_calibration_error as ece  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET = 0.03
GRID = np.exp(np.linspace(np.log(0.1), np.log(10), 161))
BOUNDS = (0.1, 10.0)


def macro_f1(proba, y) -> float:
    """Macro-F1 of the argmax over the labels present in ``y``."""
    return float(f1_score(y, proba.argmax(axis=1), labels=np.unique(y), average="macro", zero_division=0))


def embed(proba_model, cols, k):
    out = np.zeros((len(proba_model), k))
    out[:, cols] = proba_model
    return out


def fit_vector(logits, y, lam=1.0, w=None):
    """Temperature plus per-class bias (L2 penalty ``lam`` on the biases, per row)."""
    from scipy.optimize import minimize

    n, k = logits.shape
    w = np.ones(n) if w is None else w
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1

    def loss(params):
        log_t, b = params[0], params[1:]
        t = np.exp(log_t)
        z = logits / t + b
        p = softmax(z)
        lp = np.log(np.clip(p, 1e-300, None))
        value = -(w * (onehot * lp).sum(1)).sum() / w.sum() + lam * (b ** 2).sum() / n
        g = (w[:, None] * (p - onehot)) / w.sum()
        grad_b = g.sum(0) + 2 * lam * b / n
        grad_t = float((g * (-logits / t)).sum())
        return value, np.concatenate([[grad_t], grad_b])

    res = minimize(loss, np.concatenate([[np.log(fit_temperature(logits, y, bounds=BOUNDS))], np.zeros(k)]),
                   jac=True, method="L-BFGS-B",
                   bounds=[(np.log(BOUNDS[0]), np.log(BOUNDS[1]))] + [(-5, 5)] * k)
    return float(np.exp(res.x[0])), res.x[1:]


def fold_matched_temperature(w, t_oof, unlabeled):
    """The served model's temperature whose probabilities on unlabeled pool rows match, on average,
    the out-of-fold-calibrated fold models' probabilities there (the product's
    ``TrainConfig.match_temperature``, on the captured models)."""
    classes = w["classes"]
    folds = []
    for fc, fl in zip(w["fold_classes"], w["fold_pool_logits"], strict=True):
        index = {c: i for i, c in enumerate(fc)}
        z = np.full((len(unlabeled), len(classes)), -1e4)
        for j, c in enumerate(classes):
            if c in index:
                z[:, j] = fl[unlabeled, index[c]]
        folds.append(z)
    return matched_temperature(w["pool_logits"][unlabeled].astype(np.float64), folds, t_oof, BOUNDS)


def confidence_matched_temperature(w, t_oof, unlabeled):
    """The served model's temperature at which its mean top-label probability on unlabeled pool
    rows equals the fold models' (each calibrated at the out-of-fold temperature), averaged over
    the folds: the fold models' confidence level without the shrinkage of averaging them."""
    full = w["pool_logits"][unlabeled].astype(np.float64)
    if not w.get("fold_pool_logits"):
        return t_oof
    target = float(np.mean([softmax(fl[unlabeled].astype(np.float64), t_oof).max(axis=1).mean()
                            for fl in w["fold_pool_logits"]]))
    lo, hi = np.log(BOUNDS[0]), np.log(BOUNDS[1])
    for _ in range(60):  # mean top probability falls as T rises
        mid = (lo + hi) / 2
        if softmax(full, np.exp(mid)).max(axis=1).mean() > target:
            lo = mid
        else:
            hi = mid
    return float(np.exp((lo + hi) / 2))


def analyse_run(run: dict, rng) -> list[dict]:
    names = run["label_names"]
    k = len(names)
    index = {n: i for i, n in enumerate(names)}
    y_test = np.array([index[v] for v in run["y_test"]])
    y_pool = np.array([index[v] for v in run["y_pool"]])
    pool_share = np.bincount(y_pool, minlength=k) / len(y_pool)
    test_share = np.bincount(y_test, minlength=k) / len(y_test)
    mix = pool_share[y_test] / test_share[y_test]
    rows = []
    for w, rw in zip(run["waves"], run["result_waves"], strict=True):
        if "test_logits" not in w:
            continue
        cols = [index[c] for c in w["classes"]]
        test_logits = w["test_logits"].astype(np.float64)

        def test_proba(t, logits=test_logits, cols=cols):
            return embed(softmax(logits, t), cols, k)

        t_prod = w["temperature"]
        p = test_proba(t_prod)
        cum = p.cumsum(axis=1)
        floor = [ece(p, np.minimum((rng.random(len(p))[:, None] > cum).sum(axis=1), k - 1)) for _ in range(30)]
        boot = []
        for _ in range(100):
            b = rng.integers(0, len(p), len(p))
            boot.append(ece(p[b], y_test[b]))
        grid_raw = [ece(test_proba(t), y_test) for t in GRID]
        grid_mix = [ece(test_proba(t), y_test, 15, mix) for t in GRID]
        call = w["calls"][-1]
        c_index = {c: i for i, c in enumerate(call["classes"])}
        y_oof = np.array([c_index[v] for v in call["y"]])
        oof = call["logits"].astype(np.float64)
        labeled = np.zeros(len(y_pool), bool)
        labeled[w["labeled_rows"]] = True
        unlabeled = np.flatnonzero(~labeled)
        candidates = {"temperature": t_prod}
        candidates["temperature_first_pass"] = (fit_temperature(w["calls"][0]["logits"].astype(np.float64),
                                                                np.array([c_index[v] for v in w["calls"][0]["y"]]),
                                                                bounds=BOUNDS) if len(w["calls"]) > 1 else t_prod)
        # Label-mix weighting: the pool's label mix estimated by the served model's mean calibrated
        # probability over unlabeled rows, against the labeled rows' own mix.
        q = softmax(w["pool_logits"][unlabeled].astype(np.float64), t_prod).mean(axis=0)
        lab_share = np.bincount(y_oof, minlength=len(call["classes"])) / len(y_oof)
        candidates["temperature_pool_mix_weighted"] = fit_temperature(oof, y_oof, q[y_oof] / lab_share[y_oof],
                                                                      bounds=BOUNDS)
        if w.get("fold_pool_logits"):
            candidates["temperature_fold_matched"] = fold_matched_temperature(w, t_prod, unlabeled)
            candidates["temperature_confidence_matched"] = confidence_matched_temperature(w, t_prod, unlabeled)
        # The unlabeled pool rows (their labels are the oracle's, unread by the product): a dev split
        # for choosing a calibrator without the test split.
        unl_logits = w["pool_logits"][unlabeled].astype(np.float64)
        y_unl = y_pool[unlabeled]
        cand = {}
        for name, t in candidates.items():
            pc = test_proba(t)
            cand[name] = {"temperature": t, "ece": ece(pc, y_test), "ece_pool_mix": ece(pc, y_test, 15, mix),
                          "ece_unlabeled": ece(embed(softmax(unl_logits, t), cols, k), y_unl)}
        oof_finite = np.maximum(oof, -50.0)
        for lam in (1.0, 10.0):
            t_v, b_v = fit_vector(oof_finite, y_oof, lam)
            pc = embed(softmax(test_logits / t_v + b_v), cols, k)
            cand[f"vector_l2_{lam:g}"] = {"temperature": t_v, "ece": ece(pc, y_test),
                                         "ece_pool_mix": ece(pc, y_test, 15, mix),
                                         "ece_unlabeled": ece(embed(softmax(unl_logits / t_v + b_v), cols, k), y_unl),
                                         "macro_f1_unlabeled": macro_f1(embed(softmax(unl_logits / t_v + b_v), cols, k),
                                                                        y_unl)}
        if w.get("fold_test_logits"):
            # Reference only (not a product path): the fold models' calibrated average on the test split.
            ps = []
            for fc, fl in zip(w["fold_classes"], w["fold_test_logits"], strict=True):
                ps.append(embed(softmax(fl.astype(np.float64), t_prod), [index[c] for c in fc], k))
            pe = np.mean(ps, axis=0)
            cand["fold_models_average"] = {"temperature": t_prod, "ece": ece(pe, y_test),
                                           "ece_pool_mix": ece(pe, y_test, 15, mix), "ece_unlabeled": None}
        p_unl = embed(softmax(unl_logits, t_prod), cols, k)
        rows.append({
            "data": run["data"], "seed": run["seed"], "wave": rw["wave"], "labels": rw["labels"],
            "structure": w["hierarchy"], "macro_f1": rw["macro_f1"],
            "ece": ece(p, y_test), "ece_simulate": rw["ece"], "ece_pool_mix": ece(p, y_test, 15, mix),
            "confidence_minus_accuracy": float(p.max(axis=1).mean() - (p.argmax(axis=1) == y_test).mean()),
            "ece_unlabeled": cand["temperature"]["ece_unlabeled"],
            "confidence_minus_accuracy_unlabeled": float(p_unl.max(axis=1).mean() - (p_unl.argmax(axis=1) == y_unl).mean()),
            "macro_f1_unlabeled": macro_f1(p_unl, y_unl),
            "unseen": float(1 - np.isin(y_test, cols).mean()),
            "floor": float(np.mean(floor)), "floor_sd": float(np.std(floor)),
            "boot_se": float(np.std(boot)), "boot_mean": float(np.mean(boot)),
            "oracle_t": float(GRID[int(np.argmin(grid_raw))]), "oracle_ece": float(min(grid_raw)),
            "oracle_t_pool_mix": float(GRID[int(np.argmin(grid_mix))]), "oracle_ece_pool_mix": float(min(grid_mix)),
            "candidates": cand,
        })
    return rows


def summary(rows: list[dict]) -> dict:
    out = {}
    for data in sorted({r["data"] for r in rows}):
        sub = [r for r in rows if r["data"] == data]

        def stat(values):
            v = np.asarray(values, dtype=float)
            return {"meeting": int((v <= TARGET).sum()), "waves": len(v), "median": float(np.median(v)),
                    "max": float(v.max())}

        entry = {key: stat([r[key] for r in sub])
                 for key in ("ece", "ece_pool_mix", "floor", "oracle_ece", "oracle_ece_pool_mix") + (
                     ("ece_unlabeled",) if "ece_unlabeled" in sub[0] else ())}
        if "confidence_minus_accuracy_unlabeled" in sub[0]:
            entry["confidence_minus_accuracy_unlabeled_median"] = float(
                np.median([r["confidence_minus_accuracy_unlabeled"] for r in sub]))
            entry["macro_f1_unlabeled_mean"] = float(np.mean([r["macro_f1_unlabeled"] for r in sub]))
        entry["floor_median"] = float(np.median([r["floor"] for r in sub]))
        entry["boot_se_median"] = float(np.median([r["boot_se"] for r in sub]))
        entry["unseen_median"] = float(np.median([r["unseen"] for r in sub]))
        entry["confidence_minus_accuracy_median"] = float(np.median([r["confidence_minus_accuracy"] for r in sub]))
        entry["candidates"] = {name: {"ece": stat([r["candidates"][name]["ece"] for r in sub]),
                                      "ece_pool_mix": stat([r["candidates"][name]["ece_pool_mix"] for r in sub]),
                                      **({"ece_unlabeled": stat([r["candidates"][name]["ece_unlabeled"] for r in sub])}
                                         if sub[0]["candidates"][name].get("ece_unlabeled") is not None else {}),
                                      "temperature_median": float(np.median([r["candidates"][name]["temperature"]
                                                                             for r in sub]))}
                               for name in sub[0]["candidates"]}
        entry["oracle_t_median"] = float(np.median([r["oracle_t"] for r in sub]))
        entry["by_structure"] = {s: stat([r["ece"] for r in sub if r["structure"] == s])
                                 for s in sorted({r["structure"] for r in sub})}
        out[data] = entry
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--capture", type=Path, default=Path("/tmp/calib_capture2"))
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for path in sorted(args.capture.glob("*.pkl")):
        rows += analyse_run(pickle.loads(path.read_bytes()), rng)
    out = {"command": "python bench/calibration_diagnosis.py " + " ".join(sys.argv[1:]),
           "runs": "bench/calibration_capture.py: simulate's loop, default strategy, budget 1000 in waves of 100",
           "target": f"top-label ECE (15 bins) on the test split <= {TARGET} at every wave",
           "summary": summary(rows), "rows": rows}
    (RESULTS / f"calibration_diagnosis{args.tag}.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out["summary"], indent=1))


if __name__ == "__main__":
    main()
