"""Coverage of the simulation's design-based intervals, and the test-split calibration of every
wave, over the dev datasets.

Runs ``manage.py simulate``'s loop (``learner.simulation.run_simulation``, default strategy,
budget 1000, waves of 100) on banking77_longtail, trec and airline_tweets with seeds 0-2, each
wave's ``estimates`` computed only from the oracle's answers to picks with a stated inclusion
probability planned after that wave's model. For every estimable interval it checks:

- coverage of the estimand: the model's figure over the eligible pools those picks were drawn
  from, computed from every eligible item's label (what the method promises);
- coverage of the test-split truth for labels with >= 20 test items (recall is a per-label rate
  and transfers; precision and prevalence depend on the label mix, and banking77_longtail's test
  split is balanced while its pool is long-tailed, so they are reported but not the target);
- coverage of the test split's precision with the test rows weighted to the pool's label mix
  ("test, pool mix"): what a pool figure can be held to where the test split's label mix is not
  the pool's (trec's published test split);
- macro-F1: how often the interval holds the test macro-F1 over the same labels.

Writes bench/results/estimate_coverage.json and bench/results/calibration.json (top-label ECE,
15 bins, on the test split after every wave; target <= 0.03; with the test macro-F1 of the same
waves), ``--tag`` appended to both names.

    OMP_NUM_THREADS=1 python bench/estimate_coverage.py [--seeds 0 1 2] [--sets banking77_longtail trec]
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
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["HF_HUB_OFFLINE"] = "1"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from labeling.modeling.management.commands.simulate import Command  # noqa: E402
from learner import simulation as sim  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"
SETS = ("banking77_longtail", "trec", "airline_tweets")
MIN_TEST = 20


def dev_set(name: str):
    """(dataset, embeddings, label vectors) of a dev set, embedded as simulate does (cached)."""
    data = sim.load_jsonl(DATASETS / f"{name}.jsonl")
    command = Command()
    cache = Path(settings.LONGTAIL_ARTIFACT_DIR) / "emb-cache"
    embeddings, encoded_here = command.item_embeddings(data, None, cache)
    return data, embeddings, command.label_vectors(data, cache, embeddings.shape[1], encoded_here)


def run(name: str, seed: int, reuse: Path | None = None, train_options: dict | None = None) -> dict:
    if reuse is not None and (reuse / f"{name}-seed{seed}.json").exists():
        return json.loads((reuse / f"{name}-seed{seed}.json").read_text())
    data, embeddings, label_vectors = dev_set(name)
    config = sim.SimConfig(strategy="default", budget=1000, wave_size=100, seed=seed,
                           train_options=dict(train_options or {}))
    result = sim.run_simulation(data, embeddings, config, label_vectors=label_vectors, progress=False,
                                estimate_truth=True)
    if reuse is not None:
        reuse.mkdir(parents=True, exist_ok=True)
        (reuse / f"{name}-seed{seed}.json").write_text(json.dumps(result))
    return result


def tally(results: list[dict]) -> dict:
    """Coverage counts over every (run, wave, label, figure) with an interval."""
    out: dict = {}

    def add(key, run_key, ci, target, label=None):
        hit, width = ci[0] - 1e-9 <= target <= ci[1] + 1e-9, ci[1] - ci[0]
        entry = out.setdefault(key, {"intervals": 0, "covered": 0, "above": 0, "widths": [], "by_label": {},
                                     "by_run": {}})
        entry["intervals"] += 1
        entry["covered"] += int(hit)
        per_run = entry["by_run"].setdefault(run_key, [0, 0])
        per_run[0] += 1
        per_run[1] += int(hit)
        entry["above"] += int(target > ci[1] + 1e-9)
        entry["widths"].append(width)
        if label is not None:
            tally_label = entry["by_label"].setdefault(label, [0, 0])
            tally_label[0] += 1
            tally_label[1] += int(not hit)

    for result in results:
        data = Path(result["data"]).stem
        run_key = (data, result["seed"])
        for wave in result["waves"]:
            est, truth, test = wave.get("estimates"), wave.get("estimates_truth"), wave.get("test_per_class") or {}
            if not est or not truth:
                continue
            for label, row in est.items():
                if not isinstance(row, dict) or label not in truth:
                    continue
                for fig in ("precision", "recall", "prevalence"):
                    ci = row.get(f"{fig}_ci")
                    if ci is None or row.get(fig) is None:
                        continue
                    target = truth[label][fig]
                    if target is not None:
                        add((data, fig, "estimand"), run_key, ci, target)
                    t = test.get(label)
                    if fig != "prevalence" and t and t["support"] >= MIN_TEST:
                        add((data, fig, "test"), run_key, ci, t[fig], label)
                        if fig == "precision" and t.get("precision_pool_mix") is not None:
                            add((data, fig, "test, pool mix"), run_key, ci, t["precision_pool_mix"], label)
            if wave.get("macro_f1_ci") and est.get("macro_f1_labels"):
                labels = [lab for lab, row in est.items() if lab in truth and (row["n"] or row["n_predicted"])]
                f1s = []
                for lab in labels:
                    t = test.get(lab)
                    if t:
                        p, r = t["precision"], t["recall"]
                        f1s.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
                if f1s:
                    lo, hi = wave["macro_f1_ci"]
                    add((data, "macro_f1", "test, same labels"), run_key, (lo, hi), float(np.mean(f1s)))
    table = []
    for (data, fig, against), entry in sorted(out.items()):
        table.append({"data": data, "figure": fig, "against": against, "intervals": entry["intervals"],
                      "coverage": entry["covered"] / entry["intervals"],
                      # The intervals of one run share most of their sample (a wave's estimate uses
                      # every later wave's picks), so they are not independent: the standard error
                      # of the coverage is taken over runs (each run's coverage, weighted by its
                      # intervals: the ratio estimator's SE), not over intervals.
                      "coverage_se_over_runs": run_clustered_se(list(entry["by_run"].values())),
                      # misses where the truth lies above the interval: the figure was understated
                      "missed_above": entry["above"],
                      "missed_below": entry["intervals"] - entry["covered"] - entry["above"],
                      "mean_width": float(np.mean(entry["widths"])),
                      **({"misses_by_label": {lab: {"intervals": n, "missed": m}
                                              for lab, (n, m) in sorted(entry["by_label"].items())}}
                         if entry["by_label"] else {})})
    return table


def label_mix(name: str) -> dict:
    """Pool and test-split shares of the labels with at least ``MIN_TEST`` test items: where the
    two differ, precision checked against the raw test split measures the mix, not the interval."""
    data = sim.load_jsonl(DATASETS / f"{name}.jsonl")
    labels, test = data.labels.astype(str), data.is_test
    out = {}
    for label in sorted(set(labels[test].tolist())):
        n_test = int((labels[test] == label).sum())
        if n_test >= MIN_TEST:
            out[label] = {"test_items": n_test, "test_share": round(n_test / int(test.sum()), 4),
                          "pool_share": round(float((labels[~test] == label).sum()) / int((~test).sum()), 4)}
    return out


def run_clustered_se(runs: list[list[int]]) -> float | None:
    """Standard error of a pooled coverage ``Σ covered / Σ intervals`` with runs as clusters
    (``runs``: [intervals, covered] per run)."""
    if len(runs) < 2:
        return None
    n = np.array([r[0] for r in runs], dtype=float)
    c = np.array([r[1] for r in runs], dtype=float)
    rate = c.sum() / n.sum()
    residual = c - rate * n
    return float(np.sqrt(len(runs) / (len(runs) - 1) * (residual ** 2).sum()) / n.sum())


def calibration(results: list[dict]) -> dict:
    rows = []
    for result in results:
        for wave in result["waves"]:
            rows.append({"data": Path(result["data"]).stem, "seed": result["seed"], "wave": wave["wave"],
                         "labels": wave["labels"], "ece": wave["ece"], "ece_pool_mix": wave.get("ece_pool_mix"),
                         "macro_f1": wave["macro_f1"]})

    def stats(key, subset):
        values = [r[key] for r in subset if r[key] is not None]
        return {"waves": len(values), "waves_meeting": int(sum(v <= 0.03 for v in values)),
                "max": max(values) if values else None, "median": float(np.median(values)) if values else None,
                "mean": float(np.mean(values)) if values else None}

    sets = sorted({r["data"] for r in rows})
    return {"target": "top-label ECE <= 0.03 (15 bins, test split) at every wave",
            "ece_pool_mix": "the same ECE with the test rows weighted to the pool's label frequencies",
            "all": {key: stats(key, rows) for key in ("ece", "ece_pool_mix")},
            "per_set": {d: {key: stats(key, [r for r in rows if r["data"] == d]) for key in ("ece", "ece_pool_mix")}
                        for d in sets},
            "macro_f1": {d: {"mean_over_waves": float(np.mean([r["macro_f1"] for r in rows if r["data"] == d])),
                             "last_wave_mean": float(np.mean([r["macro_f1"] for r in rows if r["data"] == d
                                                              and r["wave"] == max(x["wave"] for x in rows
                                                                                   if x["data"] == d)]))}
                         for d in sets},
            "per_set_from_wave_3": {d: {key: stats(key, [r for r in rows if r["data"] == d and r["wave"] >= 3])
                                        for key in ("ece", "ece_pool_mix")} for d in sets},
            "rows": rows}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--tag", default="")
    parser.add_argument("--reuse", type=Path, default=None, help="folder keeping each run's result (reused)")
    parser.add_argument("--train", type=json.loads, default={}, help="extra TrainConfig fields (JSON)")
    args = parser.parse_args()
    started = time.time()
    results = []
    for name in args.sets:
        for seed in args.seeds:
            t = time.time()
            results.append(run(name, seed, args.reuse, args.train))
            print(f"{name} seed {seed}: {time.time() - t:.0f}s", flush=True)
    meta = {"command": "OMP_NUM_THREADS=1 python bench/estimate_coverage.py " + " ".join(sys.argv[1:]),
            "sets": args.sets, "seeds": args.seeds, "train_options": args.train, "budget": 1000, "wave_size": 100, "strategy": "default",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (loaded)",
            "seconds": round(time.time() - started)}
    coverage = {**meta, "confidence": 0.95, "min_test_items": MIN_TEST,
                "estimand": "the wave's model's figure over the eligible pools of the waves planned after it "
                            "(stacked), from every eligible item's label",
                "coverage": tally(results),
                "label_mix": {name: label_mix(name) for name in args.sets},
                "per_run": [{"data": Path(r["data"]).stem, "seed": r["seed"],
                             "waves": [{"wave": w["wave"], "labels": w["labels"], "macro_f1_test": w["macro_f1"],
                                        "macro_f1_estimate": w.get("macro_f1_estimate"),
                                        "macro_f1_ci": w.get("macro_f1_ci"),
                                        "sample_items": (w.get("estimates") or {}).get("sample", {}).get("items")}
                                       for w in r["waves"]]} for r in results]}
    (RESULTS / f"estimate_coverage{args.tag}.json").write_text(json.dumps(coverage, indent=1))
    (RESULTS / f"calibration{args.tag}.json").write_text(json.dumps({**meta, **calibration(results)}, indent=1))
    for row in coverage["coverage"]:
        print(row)


if __name__ == "__main__":
    main()
