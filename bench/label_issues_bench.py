"""Does ``learner.label_issues.find_label_issues`` (cleanlab on out-of-fold probabilities) find
labels that are wrong?

On a dev set's pool (banking77_longtail, trec, airline_tweets; optionally a random subset of
it, as a project would have labeled), 5 % of the rows get a different label drawn uniformly at
random from the other labels. Out-of-fold probabilities come from the product's learner
(``train_classifier`` per fold on the other folds' rows, 5 group-aware folds); the flagged rows are
compared with the flipped ones: precision (flagged rows that were flipped) and recall (flipped
rows that were flagged), seeds 0-2.

Writes bench/results/label_issues.json.

    OMP_NUM_THREADS=1 python bench/label_issues_bench.py [--seeds 0 1 2] [--size 2000]
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

from learner.label_issues import find_label_issues  # noqa: E402
from learner.simulation.data import load_jsonl  # noqa: E402
from learner.splits import group_kfold  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache" / "emb"
RESULTS = ROOT / "bench" / "results"
FLIP = 0.05


def out_of_fold_proba(X, y, classes, seed, folds=5):
    proba = np.zeros((len(y), len(classes)))
    index = {c: i for i, c in enumerate(classes)}
    fold = group_kfold(y, None, folds, seed=seed)
    for f in range(folds):
        train, held = fold != f, fold == f
        model = train_classifier(X[train], y[train], config=TrainConfig(seed=seed, self_training=False))
        p = model.predict_proba(X[held])
        full = np.full((held.sum(), len(classes)), 1e-6)
        full[:, [index[c] for c in model.classes_]] = p
        proba[held] = full / full.sum(axis=1, keepdims=True)
    return proba


def run(name: str, size: int, seed: int) -> dict:
    data = load_jsonl(DATASETS / f"{name}.jsonl")
    X = np.load(CACHE / f"{name}.npy")
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(~data.is_test)
    if size and size < len(pool):
        pool = np.sort(rng.choice(pool, size, replace=False))
    y_true = data.labels[pool].astype(str)
    classes = sorted(set(y_true.tolist()))
    y_given = y_true.copy()
    flipped = rng.choice(len(pool), int(round(FLIP * len(pool))), replace=False)
    for i in flipped:
        others = [c for c in classes if c != y_true[i]]
        y_given[i] = others[rng.integers(len(others))]
    t0 = time.time()
    proba = out_of_fold_proba(X[pool], y_given, classes, seed)
    index = {c: i for i, c in enumerate(classes)}
    issues = find_label_issues(np.array([index[v] for v in y_given]), proba, classes)
    flagged = {issue["index"] for issue in issues}
    truth = set(flipped.tolist())
    hit = len(flagged & truth)
    suggested_right = sum(1 for issue in issues if issue["index"] in truth
                          and issue["suggested_label"] == y_true[issue["index"]])
    return {"data": name, "rows": int(len(pool)), "labels": len(classes), "seed": seed, "flipped": len(truth),
            "flagged": len(flagged), "flagged_and_flipped": hit,
            "precision": hit / len(flagged) if flagged else None, "recall": hit / len(truth),
            "suggested_label_right": suggested_right / hit if hit else None,
            "seconds": round(time.time() - t0, 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--size", type=int, default=2000, help="rows labeled (0 = the whole pool)")
    parser.add_argument("--sets", nargs="+", default=["banking77_longtail", "trec", "airline_tweets"])
    args = parser.parse_args()
    started = time.time()
    runs = []
    for name in args.sets:
        for seed in args.seeds:
            runs.append(run(name, args.size, seed))
            print(runs[-1], flush=True)
    summary = []
    for name in args.sets:
        group = [r for r in runs if r["data"] == name]
        flagged = sum(r["flagged"] for r in group)
        hit = sum(r["flagged_and_flipped"] for r in group)
        summary.append({"data": name, "seeds": len(group), "flipped": sum(r["flipped"] for r in group),
                        "flagged": flagged, "precision": hit / flagged if flagged else None,
                        "recall": hit / sum(r["flipped"] for r in group)})
    out = {"command": "OMP_NUM_THREADS=1 python bench/label_issues_bench.py " + " ".join(sys.argv[1:]),
           "setup": f"{FLIP:.0%} of the labeled rows flipped to a random other label; cleanlab "
                    "(filter_by=prune_by_noise_rate) on 5-fold out-of-fold probabilities of train_classifier",
           "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (loaded)",
           "seconds": round(time.time() - started), "summary": summary, "runs": runs}
    (RESULTS / "label_issues.json").write_text(json.dumps(out, indent=1))
    for row in summary:
        print(row)


if __name__ == "__main__":
    main()
