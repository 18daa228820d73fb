"""Choose threshold options without looking at any test split: per-label thresholds on sibling
sets built from banking77's **train** split only (``bench/sim_siblings.py``: a long-tailed pool
shaped like banking77_longtail's, with the rare labels drawn per sibling, and a balanced dev set
of ``--dev-per-class`` rows per label, like banking77_longtail's balanced test split).

Per sibling and variant: ``train_classifier`` (the product's learner, self-training off) on the
whole sibling pool with a 0.9 precision target on every label and thresholds chosen for a
uniform class mix (the dev set's, as a lead who knows the traffic would state it); judged on the
dev set, which nothing in training read. Reported per variant, pooled over siblings: labels with
a threshold and at least one dev prediction kept ("estimable"), the share of them whose dev
precision is >= 0.9, the share of dev rows accepted without review, and the recall given up
over every label with a dev row (an infeasible label gives up all its recall).

A variant is a JSON object of ``TrainConfig`` fields. Writes bench/results/threshold_siblings.json
(or ``--out``).

    OMP_NUM_THREADS=1 python bench/threshold_siblings.py --variant off '{}' \
        --variant k2 '{"threshold_unseen_prior": 2}'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sim_siblings import CACHE, DATASETS, load_train, make_sibling  # noqa: E402
from thresholds_bench import TARGET, coverage, evaluate, summarise  # noqa: E402

from learner.training import TrainConfig, train_classifier  # noqa: E402

OUT = ROOT / "bench" / "results" / "threshold_siblings.json"


def run_one(args) -> dict:
    sibling, dev_per_class, name, options = args
    texts, labels, rows = load_train(DATASETS / "banking77.jsonl")
    X = np.load(CACHE / "banking77.npy")[rows]
    pool, dev = make_sibling(labels, sibling, dev_per_class)
    y_pool, y_dev = labels[pool].astype(str), labels[dev].astype(str)
    targets = {label: {"precision": TARGET} for label in sorted(set(y_pool.tolist()))}
    config = TrainConfig.from_dict({"seed": sibling, "self_training": False, "threshold_mix": "uniform", **options})
    t0 = time.time()
    model = train_classifier(X[pool], y_pool, config=config, targets=targets)
    table = {row["label"]: row for row in model.report["thresholds"]}

    def usable(label):
        return bool(table[label]["feasible"])

    rows = evaluate(model, X[dev], y_dev, lambda c: model.thresholds[c] if usable(c) else None, np.ones(len(dev)))
    judged, spread = summarise(list(rows.values())), coverage(model, X[dev], y_dev, usable)
    return {"variant": name, "sibling": sibling, "seconds": round(time.time() - t0, 1),
            "estimable": judged["estimable"], "met": judged["met"], "auto_share": spread["auto_share"],
            "recall_given_up_all_labels": spread["mean_recall_given_up_all_labels"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--siblings", type=int, default=12)
    parser.add_argument("--first-sibling", type=int, default=100)
    parser.add_argument("--dev-per-class", type=int, default=40)
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    variants = {name: json.loads(options) for name, options in args.variant}
    jobs = [(s, args.dev_per_class, name, options) for s in range(args.first_sibling, args.first_sibling + args.siblings)
            for name, options in variants.items()]
    started = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(run_one, jobs))
    summary = {}
    for name in variants:
        mine = [r for r in runs if r["variant"] == name]
        estimable, met = sum(r["estimable"] for r in mine), sum(r["met"] for r in mine)
        summary[name] = {"siblings": len(mine), "estimable": estimable, "met": met,
                         "share_met": met / estimable if estimable else None,
                         "per_sibling_share_met": [round(r["met"] / r["estimable"], 3) if r["estimable"] else None
                                                   for r in mine],
                         "auto_share": float(np.mean([r["auto_share"] for r in mine])),
                         "recall_given_up_all_labels": float(np.mean([r["recall_given_up_all_labels"] for r in mine]))}
        print(name, summary[name], flush=True)
    Path(args.out).write_text(json.dumps({"command": "python bench/threshold_siblings.py " + " ".join(
        f"'{a}'" if " " in a else a for a in sys.argv[1:]), "target": TARGET, "dev_per_class": args.dev_per_class,
        "variants": variants, "seconds": round(time.time() - started, 1), "summary": summary, "runs": runs},
        indent=1) + "\n")


if __name__ == "__main__":
    main()
