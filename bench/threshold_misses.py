"""Where do thresholds that miss their precision target on the test split take their errors from?

banking77_longtail, the whole pool, a 0.9 precision target on every label, thresholds chosen for
a uniform class mix (the balanced test split's), seeds 0-2 (as ``bench/thresholds_bench.py``'s
``uniform`` arm). For each feasible label whose test precision is under 0.9: its test precision and
kept count, and each confuser (the true label of a wrong kept test prediction) with how many of
its test items landed there and how many rows it has in the pool. Also, over all seeds, the share
of wrong kept test predictions whose true label has fewer than 20 pool rows.

Writes bench/results/threshold_misses.json.

    OMP_NUM_THREADS=1 python bench/threshold_misses.py [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.simulation.data import load_jsonl  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache" / "emb"
OUT = ROOT / "bench" / "results" / "threshold_misses.json"
TARGET, FEW = 0.9, 20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    started = time.time()
    data = load_jsonl(DATASETS / "banking77_longtail.jsonl")
    X = np.load(CACHE / "banking77_longtail.npy")
    pool, test = np.flatnonzero(~data.is_test), np.flatnonzero(data.is_test)
    labels = data.labels[pool]
    pool_count = Counter(labels.astype(str).tolist())
    parents = {str(f): str(c) for f, c in zip(data.labels, data.coarse, strict=True)} if data.coarse is not None else None
    targets = {label: {"precision": TARGET} for label in sorted(pool_count)}
    y_test = data.labels[test].astype(str)
    runs, wrong_total, wrong_from_few = [], 0, 0
    for seed in args.seeds:
        config = TrainConfig.from_dict({"seed": seed, "self_training": False, "threshold_mix": "uniform"})
        model = train_classifier(X[pool], labels, config=config, targets=targets, parents=parents)
        table = {row["label"]: row for row in model.report["thresholds"]}
        proba = model.predict_proba(X[test])
        classes = np.array(model.classes_)
        top, top_p = classes[proba.argmax(axis=1)], proba.max(axis=1)
        misses, feasible = [], 0
        for label in classes:
            if not table[label]["feasible"]:
                continue
            kept = (top == label) & (top_p >= model.thresholds[label])
            if not kept.any():
                continue
            feasible += 1
            wrong = Counter(y_test[kept & (y_test != label)].tolist())
            wrong_total += sum(wrong.values())
            wrong_from_few += sum(v for k, v in wrong.items() if pool_count[k] < FEW)
            precision = float((y_test[kept] == label).mean())
            if precision < TARGET:
                misses.append({"label": label, "pool_rows": pool_count[label], "kept": int(kept.sum()),
                               "test_precision": precision,
                               "tuning_precision_lower": table[label]["precision_lower"],
                               "confusers": [{"label": k, "test_items_landed": v, "pool_rows": pool_count[k]}
                                             for k, v in wrong.most_common()]})
        runs.append({"seed": seed, "feasible_with_test_rows": feasible, "missed": len(misses), "misses": misses})
        print(seed, feasible, len(misses), flush=True)
    out = {"command": "python bench/threshold_misses.py " + " ".join(sys.argv[1:]), "target": TARGET,
           "seconds": round(time.time() - started, 1),
           "wrong_kept_test_predictions": wrong_total,
           f"share_of_them_from_labels_with_under_{FEW}_pool_rows": wrong_from_few / wrong_total if wrong_total else None,
           "labels_with_under_20_pool_rows": sum(1 for v in pool_count.values() if v < FEW),
           "runs": runs}
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
