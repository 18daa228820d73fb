"""Benchmark of the label-issue scan the loop runs after each retrain: with 5 % of a labeled set's
labels flipped at random, the precision and recall of the items flagged (out-of-fold
probabilities of the product's default head, ``learner.oof_proba``, then cleanlab,
``learner.label_issues``), with and without the review-share cap the product applies.

The labeled set is a uniform sample of a dataset's pool split (its true labels), the size a
project has mid-loop; flipped labels go to a uniformly drawn other label. Uses the precomputed
MiniLM vectors in bench/.cache/emb/<name>.npy (bench/embed_datasets.py). bench/label_issues_bench.py
measures cleanlab itself on ``train_classifier`` folds; this one measures the scan as the loop
runs it (``learner.oof_proba``) and what the review-share cap leaves in the queue.

Run: nice .venv/bin/python bench/label_issue_bench.py [--datasets a,b] [--sizes 500,2000] [--seeds 3]
Writes bench/results/label_issue_scan.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
EMB = ROOT / "bench" / ".cache" / "emb"
RESULTS = ROOT / "bench" / "results" / "label_issue_scan.json"

from learner.label_issues import find_label_issues  # noqa: E402
from learner.oof_proba import out_of_fold_proba  # noqa: E402
from learner.training import TrainConfig  # noqa: E402

FLIP_SHARE = 0.05
REVIEW_SHARE_MAX = 0.10  # the project default the product caps label issues with


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in (DATASETS / f"{name}.jsonl").open(encoding="utf-8")]
    path = EMB / f"{name}.npy"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run bench/embed_datasets.py {name}")
    X = np.load(path)
    if len(X) != len(rows):
        raise ValueError(f"{path} has {len(X)} rows but {name}.jsonl has {len(rows)} lines")
    pool = np.array([r["split"] == "train" for r in rows])
    return X[pool], np.array([r["label"] for r in rows], dtype=object)[pool]


def run_once(X, y, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(y), size=min(n, len(y)), replace=False)
    Xs, truth = X[rows], y[rows].copy()
    given = truth.copy()
    labels = sorted(set(y.tolist()))
    flipped = rng.choice(len(rows), size=round(FLIP_SHARE * len(rows)), replace=False)
    for i in flipped:
        given[i] = rng.choice([c for c in labels if c != truth[i]])
    started = time.perf_counter()
    scored, proba, classes = out_of_fold_proba(Xs, given, config=TrainConfig(seed=seed), folds=5)
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.asarray([index[c] for c in given[scored]])
    issues = find_label_issues(y_idx, proba, classes)
    seconds = time.perf_counter() - started
    flipped_set = {int(i) for i in flipped}
    flagged = [int(scored[issue["index"]]) for issue in issues]
    cap = int(REVIEW_SHARE_MAX * len(rows))

    def quality(chosen: list[int]) -> dict:
        hits = len(set(chosen) & flipped_set)
        return {"flagged": len(chosen), "hits": hits,
                "precision": hits / len(chosen) if chosen else None, "recall": hits / len(flipped_set)}

    suggested_right = sum(issue["suggested_label"] == truth[scored[issue["index"]]] for issue in issues
                          if int(scored[issue["index"]]) in flipped_set)
    return {"n": int(len(rows)), "labels_in_sample": int(len(set(given.tolist()))), "flipped": len(flipped_set),
            "scored_out_of_fold": int(len(scored)), "all": quality(flagged), "capped": quality(flagged[:cap]),
            "cap": cap, "suggested_label_right_on_hits": int(suggested_right), "seconds": round(seconds, 2)}


def mean(runs: list[dict], part: str, key: str) -> float | None:
    values = [run[part][key] for run in runs if run[part][key] is not None]
    return round(float(np.mean(values)), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="banking77_longtail,trec,airline_tweets")
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    results = []
    for name in args.datasets.split(","):
        X, y = load(name)
        for n in (int(s) for s in args.sizes.split(",")):
            for seed in range(args.seeds):
                r = {"dataset": name, "seed": seed, **run_once(X, y, n, seed)}
                print(json.dumps(r), flush=True)
                results.append(r)
    summary = {}
    for r in results:
        key = f"{r['dataset']}@{r['n']}"
        summary.setdefault(key, []).append(r)
    table = {}
    for key, runs in summary.items():
        table[key] = {"precision": mean(runs, "all", "precision"), "recall": mean(runs, "all", "recall"),
                      "flagged": mean(runs, "all", "flagged"), "capped_precision": mean(runs, "capped", "precision"),
                      "capped_recall": mean(runs, "capped", "recall"), "seeds": len(runs)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "what": "label-issue scan (5-fold out-of-fold logreg/inverse + cleanlab prune_by_noise_rate) on a "
                "uniform sample of the pool with 5 % of labels flipped at random",
        "flip_share": FLIP_SHARE, "review_share_max": REVIEW_SHARE_MAX,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other "
                   "jobs while this ran (timings are loaded-machine figures)",
        "summary": table, "runs": results}, indent=1) + "\n", encoding="utf-8")
    for key, row in table.items():
        print(key, row)


if __name__ == "__main__":
    main()
