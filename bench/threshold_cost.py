"""What precision targets add to a retrain: ``train_classifier`` on banking77_longtail's whole pool
(3,272 rows, 77 labels, self-training off) with no targets, with a 0.9 precision target on every
label at the labeled rows' mix (equal weights: the per-cut confidence is cached by row count),
and at a uniform mix (unequal weights: each label's scan simulated afresh). Arms interleaved,
``--repeats`` times each; median seconds. Writes bench/results/threshold_cost.json.

    OMP_NUM_THREADS=1 python bench/threshold_cost.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.precision_bounds import clear_scan_cache  # noqa: E402
from learner.simulation.data import load_jsonl  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402

OUT = ROOT / "bench" / "results" / "threshold_cost.json"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_jsonl(ROOT.parent / "shared" / "datasets" / "banking77_longtail.jsonl")
    X = np.load(ROOT / "bench" / ".cache" / "emb" / "banking77_longtail.npy")
    pool = np.flatnonzero(~data.is_test)
    labels = data.labels[pool]
    targets = {label: {"precision": 0.9} for label in sorted(set(labels.tolist()))}
    arms = {"no_targets": ({"threshold_mix": "labeled"}, None),
            "targets_labeled_mix": ({"threshold_mix": "labeled"}, targets),
            "targets_uniform_mix": ({"threshold_mix": "uniform"}, targets)}
    seconds = {name: [] for name in arms}
    for _ in range(args.repeats):
        for name, (options, arm_targets) in arms.items():
            clear_scan_cache()  # a worker's first retrain of this size: nothing cached
            config = TrainConfig.from_dict({"seed": 0, "self_training": False, **options})
            t0 = time.perf_counter()
            train_classifier(X[pool], labels, config=config, targets=arm_targets)
            seconds[name].append(round(time.perf_counter() - t0, 2))
            print(name, seconds[name][-1], flush=True)
    out = {"command": "python bench/threshold_cost.py " + " ".join(sys.argv[1:]),
           "rows": int(len(pool)), "labels": len(targets), "load_average_1min_at_end": os.getloadavg()[0],
           "machine": "2 cores shared with other jobs", "seconds": seconds,
           "median_seconds": {name: float(np.median(v)) for name, v in seconds.items()}}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(out["median_seconds"])


if __name__ == "__main__":
    main()
