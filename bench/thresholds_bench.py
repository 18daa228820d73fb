"""Do per-label thresholds hold on data that did not choose them?

A precision target of 0.9 on every label of banking77_longtail and trec; ``train_classifier``
(the product's learner: hierarchy from ``coarse_label`` where the data has it, self-training off
for lack of an unlabeled sample here) on the pool, or on a random part of it, with seeds 0-2.
Each label's threshold is applied to the **test split**, which nothing in training read, to the
label the model emits there (``TrainedClassifier.emitted``: decoded with a taxonomy, a coarse
fallback being no fine label's prediction), as the product serves it:

- estimable: the training chose a finite threshold (a feasible target) and at least one test
  prediction of the label reaches it;
- met: the test-split precision of the kept predictions is >= 0.9;
- recall given up: test recall with no threshold minus test recall at the threshold, averaged
  over the estimable labels;
- the same for the point-estimate rule (the lowest threshold whose tuning precision reaches 0.9,
  ``point_threshold`` of the report), for comparison;
- "met" as the training report states it (judged on held-out folds) against the test outcome.

The keys above (``lower_bound_rule``, ``point_rule``, their ``_pool_mix`` variants, ``per_label``,
``report_met_vs_test``) are the thresholds chosen at the training rows' own class mix
(``threshold_mix="labeled"``, as before). Each run then retrains with the thresholds chosen for
another class mix (``TrainConfig.threshold_mix``, learner/label_shift.py) and judges them on the
same test split, under ``mixes``:

- ``labeled``: the training rows' mix (the rows above, repeated for the side-by-side table);
- ``uniform``: every label equally often (banking77_longtail's test split is documented balanced,
  40 per class: a lead who knows the traffic states it);
- ``test_em``: the mix estimated by EM from the **unlabeled test texts** (passed as the unlabeled
  rows of ``threshold_mix="pool"``; their labels are never read in training), i.e. a sample of
  the traffic the model will face;
- ``pool_em``: the product's default, ``threshold_mix="pool"`` with the pool rows not trained on
  as the unlabeled rows and their count as ``unlabeled_total`` (the pool's mix = labeled and
  unlabeled rows together); only when some are left (not with the whole pool).

``--draw balanced`` trains on a class-balanced draw of ``size`` pool rows (every label up to
size / labels rows, as active learning over-represents rare labels) instead of a random one: the
product's case, where the labeled mix is neither the pool's nor the traffic's. Each mix is also
judged with the test rows reweighted to the pool's class mix (``share_met_pool_mix``): traffic
like the pool.

Per mix: share of estimable labels meeting the target on the test split, mean recall given up
(estimable labels), and two figures that do not hide labels made infeasible: recall given up
over every label with a test row (an infeasible label gives up all its recall) and the share of
test rows accepted without review. ``mix_error``: total variation distance between the mix used
and the test split's true mix (read only for this report). Nothing is chosen on the test split.

Writes bench/results/thresholds.json.

    OMP_NUM_THREADS=1 python bench/thresholds_bench.py [--seeds 0 1 2] [--sizes 1000 0]
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.estimates import wilson_lower_bound  # noqa: E402
from learner.simulation.data import load_jsonl  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache" / "emb"
RESULTS = ROOT / "bench" / "results"
TARGET = 0.9


def evaluate(model, X_test, y_test, threshold_of, weight) -> dict:
    """Per label: test precision / recall at its threshold and recall with none; precision also
    with each test row weighted so the labels have their pool frequencies (``weight``)."""
    # the label the model emits (decoded with a taxonomy; a coarse fallback is no fine label's)
    emitted = model.emitted(model.predict_proba(X_test))
    top, top_p = emitted.label.astype(str), emitted.prob
    out = {}
    for label in model.classes_:
        t = threshold_of(label)
        if t is None:
            continue
        predicted = top == label
        kept = predicted & (top_p >= t)
        positives = y_test == label
        out[label] = {"threshold": t, "kept": int(kept.sum()),
                      "precision": float((y_test[kept] == label).mean()) if kept.any() else None,
                      "precision_pool_mix": float(np.average(y_test[kept] == label, weights=weight[kept]))
                      if kept.any() and weight[kept].sum() > 0 else None,
                      "recall": float((kept & positives).sum() / positives.sum()) if positives.any() else None,
                      "recall_no_threshold": float((predicted & positives).sum() / positives.sum())
                      if positives.any() else None}
    return out


def summarise(rows: list[dict], key: str = "precision") -> dict:
    """met: test precision >= the target; among labels with >= 20 kept test rows (where the test
    split measures precision to about ±0.07); not_contradicted: the test split's one-sided 95 %
    Wilson upper bound reaches the target (a shortfall the test split can show)."""
    estimable = [r for r in rows if r["kept"] > 0 and r[key] is not None]
    met = [r for r in estimable if r[key] >= TARGET]
    well_measured = [r for r in estimable if r["kept"] >= 20]
    upper = [1 - wilson_lower_bound(1 - r[key], r["kept"]) for r in estimable]
    given_up = [r["recall_no_threshold"] - r["recall"] for r in estimable if r["recall"] is not None]
    return {"labels": len(rows), "estimable": len(estimable), "met": len(met),
            "share_met": len(met) / len(estimable) if estimable else None,
            "estimable_20_kept": len(well_measured),
            "share_met_20_kept": (sum(r[key] >= TARGET for r in well_measured) / len(well_measured)
                                  if well_measured else None),
            "share_not_contradicted": (sum(u >= TARGET for u in upper) / len(upper)) if upper else None,
            "mean_recall_given_up": float(np.mean(given_up)) if given_up else None,
            "mean_test_precision": float(np.mean([r[key] for r in estimable])) if estimable else None}


MIXES = ("labeled", "uniform", "test_em", "pool_em")


def coverage(model, X_test, y_test, usable) -> dict:
    """Over every label with a test row: recall given up by the thresholds (a label whose target is
    infeasible sends all its predictions to review, so gives up all its recall), and the share of
    test rows accepted without review."""
    emitted = model.emitted(model.predict_proba(X_test))
    classes = np.array(model.classes_)
    top, top_p = emitted.label.astype(str), emitted.prob
    cut = np.array([model.thresholds[c] if usable(c) else np.inf for c in classes])
    # a coarse fallback is accepted for no fine label
    accepted = ~emitted.fallback & (top_p >= cut[emitted.fine_column])
    given_up = []
    for label in sorted(set(y_test.tolist()) & set(classes.tolist())):
        positives = y_test == label
        hit = (top == label) & positives
        given_up.append((hit.sum() - (hit & accepted).sum()) / positives.sum())
    return {"mean_recall_given_up_all_labels": float(np.mean(given_up)) if given_up else None,
            "labels_with_test_rows": len(given_up), "auto_share": float(accepted.mean()),
            "auto_precision": float((top[accepted] == y_test[accepted]).mean()) if accepted.any() else None}


def mix_arm(X, pool, labels, test, y_test, parents, targets, seed, train_options, mix, weight, rest) -> dict:
    """Train with thresholds chosen for ``mix`` and judge them on the test split (as it is, and
    reweighted to the pool's mix by ``weight``); ``rest``: pool rows not trained on."""
    options = {"seed": seed, "self_training": False, **(train_options or {}),
               "threshold_mix": "pool" if mix in ("test_em", "pool_em") else mix}
    unlabeled = X[test] if mix == "test_em" else X[rest] if mix == "pool_em" else None
    t0 = time.time()
    model = train_classifier(X[pool], labels, config=TrainConfig.from_dict(options), targets=targets,
                             parents=parents, unlabeled=unlabeled,
                             unlabeled_total=len(rest) if mix == "pool_em" else None)
    table = {row["label"]: row for row in model.report["thresholds"]}
    rows = evaluate(model, X[test], y_test, lambda c: model.thresholds[c] if table[c]["feasible"] else None,
                    weight)
    mix_report = dict(model.report.get("threshold_mix") or {})
    shares = mix_report.pop("shares", None)
    tuning = mix_report.pop("tuning_shares", None)
    return {"seconds": round(time.time() - t0, 1), "threshold_mix": mix_report, "shares_used": shares or tuning,
            "feasible_labels": sum(1 for r in table.values() if r["feasible"]),
            "lower_bound_rule": summarise(list(rows.values())),
            "lower_bound_rule_pool_mix": summarise(list(rows.values()), "precision_pool_mix"),
            **coverage(model, X[test], y_test, lambda c: bool(table[c]["feasible"])),
            "per_label": {c: {**rows[c], "feasible": table[c]["feasible"], "reported_met": table[c]["met"]}
                          for c in rows}}


def balanced_draw(pool: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Up to ``size`` pool rows, every label getting up to ceil(size / labels) of its rows (seeded)."""
    rng = np.random.default_rng(seed)
    names = np.unique(labels[pool])
    per = int(np.ceil(size / len(names)))
    rows = [rng.permutation(pool[labels[pool] == c])[:per] for c in names]
    return np.sort(np.concatenate(rows))


def run(name: str, size: int, seed: int, train_options: dict | None = None, mixes=MIXES,
        draw: str = "random") -> dict:
    data = load_jsonl(DATASETS / f"{name}.jsonl")
    X = np.load(CACHE / f"{name}.npy")
    pool, test = np.flatnonzero(~data.is_test), np.flatnonzero(data.is_test)
    whole_pool = pool
    if size and size < len(pool):
        pool = (balanced_draw(pool, data.labels, size, seed) if draw == "balanced" else
                np.sort(np.random.default_rng(seed).choice(pool, size, replace=False)))
    rest = np.setdiff1d(whole_pool, pool)
    labels = data.labels[pool]
    parents = None
    if data.coarse is not None:
        parents = {str(f): str(c) for f, c in zip(data.labels, data.coarse, strict=True)}
        parents = {f: c for f, c in parents.items() if f in set(labels.tolist())}
    targets = {label: {"precision": TARGET} for label in sorted(set(labels.tolist()))}
    t0 = time.time()
    options = {"seed": seed, "self_training": False, "threshold_mix": "labeled", **(train_options or {})}
    model = train_classifier(X[pool], labels, config=TrainConfig.from_dict(options), targets=targets, parents=parents)
    table = {row["label"]: row for row in model.report["thresholds"]}
    y_test = data.labels[test].astype(str)
    # test rows reweighted to the pool's label frequencies (banking77_longtail's test split is
    # balanced, its pool long-tailed: a head label's precision is lower on the balanced split)
    pool_all = data.labels[~data.is_test].astype(str)
    names, counts = np.unique(pool_all, return_counts=True)
    pool_share = dict(zip(names, counts / counts.sum(), strict=True))
    names, counts = np.unique(y_test, return_counts=True)
    test_share = dict(zip(names, counts / counts.sum(), strict=True))
    weight = np.array([pool_share.get(v, 0.0) / test_share[v] for v in y_test])
    chosen = evaluate(model, X[test], y_test,
                      lambda c: model.thresholds[c] if table[c]["feasible"] else None, weight)
    point = evaluate(model, X[test], y_test,
                     lambda c: table[c]["point_threshold"] if table[c].get("point_threshold") is not None else None,
                     weight)
    agreement = {"report_met_true": 0, "report_met_true_and_test_met": 0, "report_met_false": 0,
                 "report_met_false_and_test_missed": 0, "report_met_none": 0}
    for label, row in chosen.items():
        said = table[label]["met"]
        ok = row["precision"] is not None and row["precision"] >= TARGET
        if row["precision"] is None:
            continue
        if said is True:
            agreement["report_met_true"] += 1
            agreement["report_met_true_and_test_met"] += ok
        elif said is False:
            agreement["report_met_false"] += 1
            agreement["report_met_false_and_test_missed"] += not ok
        else:
            agreement["report_met_none"] += 1
    arms = {"labeled": {"threshold_mix": {k: (model.report.get("threshold_mix") or {}).get(k)
                                          for k in ("setting", "used", "source")},
                        "feasible_labels": sum(1 for r in table.values() if r["feasible"]),
                        "lower_bound_rule": summarise(list(chosen.values())),
                        "lower_bound_rule_pool_mix": summarise(list(chosen.values()), "precision_pool_mix"),
                        **coverage(model, X[test], y_test, lambda c: bool(table[c]["feasible"]))}}
    arms["labeled"]["shares_used"] = (model.report.get("threshold_mix") or {}).get("tuning_shares") or {}
    for mix in mixes:
        if mix != "labeled" and not (mix == "pool_em" and len(rest) == 0):
            arms[mix] = mix_arm(X, pool, labels, test, y_test, parents, targets, seed, train_options, mix, weight,
                                rest)
    for arm in arms.values():  # total variation distance of the mix used from the test split's / the pool's
        used = arm["shares_used"] or {}
        for key, truth in (("mix_error", test_share), ("mix_error_pool", pool_share)):
            arm[key] = 0.5 * sum(abs(used.get(c, 0.0) - truth.get(c, 0.0)) for c in set(used) | set(truth))
    return {"data": name, "draw": draw, "train_rows": int(len(pool)), "seed": seed,
            "seconds": round(time.time() - t0, 1),
            "mixes": arms,
            "feasible_labels": sum(1 for r in table.values() if r["feasible"]),
            "labels": len(table), "lower_bound_rule": summarise(list(chosen.values())),
            "point_rule": summarise(list(point.values())),
            "lower_bound_rule_pool_mix": summarise(list(chosen.values()), "precision_pool_mix"),
            "point_rule_pool_mix": summarise(list(point.values()), "precision_pool_mix"),
            "report_met_vs_test": agreement,
            "per_label": {c: {**chosen[c], "feasible": table[c]["feasible"], "reported_met": table[c]["met"],
                              "held_out_precision": table[c].get("held_out_precision")} for c in chosen}}


def group_extra(group: list[dict], rule: str) -> dict:
    """Pooled shares of the point rule's per-run summaries (its per-label rows are not kept)."""
    if any("estimable_20_kept" not in r[rule] for r in group):
        return {}
    est = sum(r[rule].get("estimable_20_kept", 0) for r in group)
    met20 = sum((r[rule].get("share_met_20_kept") or 0) * r[rule].get("estimable_20_kept", 0) for r in group)
    n = sum(r[rule]["estimable"] for r in group)
    nc = sum((r[rule].get("share_not_contradicted") or 0) * r[rule]["estimable"] for r in group)
    return {"estimable_20_kept": est, "share_met_20_kept": met20 / est if est else None,
            "share_not_contradicted": nc / n if n else None}


def by_mix(runs: list[dict], sets) -> list[dict]:
    """Side by side per data set, training size and mix, pooled over seeds: share of estimable
    labels meeting the target on the test split, recall given up, auto-accepted share."""
    out = []
    for name in sets:
        for size in sorted({r["train_rows"] for r in runs if r["data"] == name}):
            group = [r for r in runs if r["data"] == name and r["train_rows"] == size and "mixes" in r]
            for mix in MIXES:
                arms = [r["mixes"][mix] for r in group if mix in r["mixes"]]
                if not arms:
                    continue
                per_label = ([x for r in group for x in r["per_label"].values()] if mix == "labeled" else
                             [x for a in arms for x in a["per_label"].values()])
                pooled = summarise(per_label)
                pooled_pool_mix = summarise(per_label, "precision_pool_mix")

                def mean(key, arms=arms):
                    values = [a[key] for a in arms if a.get(key) is not None]
                    return float(np.mean(values)) if values else None

                out.append({"data": name, "train_rows": size, "mix": mix, "seeds": len(arms),
                            "estimable_labels": pooled["estimable"], "met": pooled["met"],
                            "share_met": pooled["share_met"], "share_not_contradicted": pooled["share_not_contradicted"],
                            "met_pool_mix": pooled_pool_mix["met"], "share_met_pool_mix": pooled_pool_mix["share_met"],
                            "mean_recall_given_up": pooled["mean_recall_given_up"],
                            "feasible_labels_per_run": mean("feasible_labels"),
                            "mean_recall_given_up_all_labels": mean("mean_recall_given_up_all_labels"),
                            "auto_share": mean("auto_share"), "auto_precision": mean("auto_precision"),
                            "mix_error": mean("mix_error"), "mix_error_pool": mean("mix_error_pool"),
                            "mix_used": sorted({str((a.get("threshold_mix") or {}).get("used")) for a in arms})})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 0], help="training rows (0 = whole pool)")
    parser.add_argument("--sets", nargs="+", default=["banking77_longtail", "trec"])
    parser.add_argument("--train", type=json.loads, default={}, help="extra TrainConfig fields (JSON)")
    parser.add_argument("--out", default="thresholds.json")
    parser.add_argument("--resummarise", action="store_true", help="recompute the summary of --out's runs")
    parser.add_argument("--mixes", nargs="+", default=list(MIXES), choices=MIXES,
                        help="class mixes the thresholds are chosen for (labeled always runs)")
    parser.add_argument("--draw", choices=("random", "balanced"), default="random",
                        help="training rows: a random or a class-balanced draw of --sizes pool rows")
    args = parser.parse_args()
    started = time.time()
    runs = []
    for name in args.sets if not args.resummarise else []:
        for size in args.sizes:
            for seed in args.seeds:
                runs.append(run(name, size, seed, args.train, args.mixes, args.draw))
                r = runs[-1]
                print(name, r["train_rows"], seed, r["lower_bound_rule"], r["lower_bound_rule_pool_mix"], flush=True)
                for mix, arm in r["mixes"].items():
                    print("  ", mix, arm["lower_bound_rule"]["share_met"], arm["lower_bound_rule"]["estimable"],
                          arm["lower_bound_rule_pool_mix"]["share_met"],
                          arm["mean_recall_given_up_all_labels"], arm["auto_share"], arm["mix_error"], flush=True)
    if args.resummarise:
        saved = json.loads((RESULTS / args.out).read_text())
        runs = saved["runs"]
        for r in runs:
            r["lower_bound_rule"] = summarise(list(r["per_label"].values()))
            r["lower_bound_rule_pool_mix"] = summarise(list(r["per_label"].values()), "precision_pool_mix")
        started -= saved["seconds"]
    overall = {}
    for rule in ("lower_bound_rule", "point_rule", "lower_bound_rule_pool_mix", "point_rule_pool_mix"):
        for name in args.sets:
            for size in sorted({r["train_rows"] for r in runs if r["data"] == name}):
                group = [r for r in runs if r["data"] == name and r["train_rows"] == size]
                est = sum(r[rule]["estimable"] for r in group)
                met = sum(r[rule]["met"] for r in group)
                rows = [x for r in group for x in r["per_label"].values()] if rule.startswith("lower") else None
                key = "precision_pool_mix" if rule.endswith("pool_mix") else "precision"
                extra = summarise(rows, key) if rows is not None else group_extra(group, rule)
                gu = [r[rule]["mean_recall_given_up"] for r in group if r[rule]["mean_recall_given_up"] is not None]
                overall.setdefault(rule, []).append({
                    "data": name, "train_rows": size, "seeds": len(group), "estimable_labels": est,
                    "met": met, "share_met": met / est if est else None,
                    "share_met_20_kept": extra.get("share_met_20_kept"),
                    "estimable_20_kept": extra.get("estimable_20_kept"),
                    "share_not_contradicted": extra.get("share_not_contradicted"),
                    "mean_recall_given_up": float(np.mean(gu)) if gu else None})
    overall["by_mix"] = by_mix(runs, args.sets)
    command = "OMP_NUM_THREADS=1 python bench/thresholds_bench.py " + " ".join(sys.argv[1:])
    if args.resummarise:
        command = saved["command"] + "; summary recomputed by: " + command
    out = {"command": command,
           "target": f"precision >= {TARGET} on every label; share of estimable labels whose test precision meets it "
                     ">= 90 %",
           "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (loaded)",
           "seconds": round(time.time() - started), "summary": overall, "runs": runs}
    (RESULTS / args.out).write_text(json.dumps(out, indent=1))
    for rule, rows in overall.items():
        for row in rows:
            print(rule, row)


if __name__ == "__main__":
    main()
