"""The penalty a full labeled pool wants: ``simulate``'s full-pool fit (every pool row labeled, the
simulation's retrain) under several class weightings and ``C``, scored on a dev fifth of the pool
held out per seed (``simulate --dev-fraction 0.2``'s split; the test split is not read).

Round 17 found the full-pool fits following the total row weight (trec 0.674 at effective
weights' total against 0.717 at N), while the loop's early waves gain from the stronger penalty.
This measures how much of that a larger ``C`` would win back at the full pool, per set, as a lead
for a penalty chosen per retrain; it changes nothing in the product.

    OMP_NUM_THREADS=1 python bench/full_pool_penalty.py --sets trec airline_tweets banking77_longtail \\
        --seeds 0 1 2 --out bench/results/full_pool_penalty.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from estimate_coverage import dev_set  # noqa: E402  (bench/ is sys.path[0] when run as a script; simulate's inputs)

from learner import simulation as sim  # noqa: E402
from learner.simulation.pool import SimPool, train_simulated_model  # noqa: E402
from learner.simulation.run import (  # noqa: E402
    evaluate_model,
    rarest_classes,
    simulation_train_config,
    split_pool_dev,
    split_pool_test,
)

ARMS = {"effective C10 (default)": {}, "effective C20": {"C": 20.0}, "effective C40": {"C": 40.0},
        "inverse C10": {"weighting": "inverse"}, "inverse C5": {"weighting": "inverse", "C": 5.0}}


def dev_pool(name: str, seed: int, train_options: dict | None = None):
    """simulate's set-up of one dev-fifth run (``--dev-fraction 0.2``): (dataset, embeddings, the
    run's SimConfig, SimPool, dataset rows of the pool and of the dev fifth, label names, parents)."""
    data, embeddings, label_vectors = dev_set(name)
    config = sim.SimConfig(strategy="default", budget=1000, wave_size=100, seed=seed, dev_fraction=0.2,
                           train_options=dict(train_options or {}))
    pool_rows, _ = split_pool_test(data, seed, config.test_fraction)
    pool_rows, dev = split_pool_dev(data, pool_rows, seed, config.dev_fraction)
    pool_rows = np.sort(pool_rows)
    label_names = sorted(set(data.labels.tolist()))
    parents = ({str(f): str(c) for f, c in zip(data.labels, data.coarse, strict=True)}
               if data.coarse is not None else None)
    pool = SimPool(item_ids=pool_rows, texts=[data.texts[i] for i in pool_rows], sources=data.sources[pool_rows],
                   embeddings=embeddings[pool_rows], label_names=label_names, label_vectors=label_vectors)
    return data, embeddings, config, pool, pool_rows, dev, label_names, parents


def one(args) -> dict:
    name, seed, arm = args
    data, embeddings, config, pool, pool_rows, dev, label_names, parents = dev_pool(name, seed, ARMS[arm])
    label_index = {n: i for i, n in enumerate(label_names)}
    started = time.perf_counter()
    model = train_simulated_model(pool, np.arange(len(pool_rows)), data.labels[pool_rows],
                                  config=simulation_train_config(config), version=0, parents=parents)
    score = evaluate_model(model, embeddings[dev], data.labels[dev], label_names, label_index,
                           rarest_classes(data.labels[pool_rows]))
    return {"set": name, "seed": seed, "arm": arm, "dev_macro_f1": round(float(score["macro_f1"]), 4),
            "dev_ece": None if score.get("ece") is None else round(float(score["ece"]), 4),
            "pool_rows": int(len(pool_rows)), "dev_rows": int(len(dev)),
            "seconds": round(time.perf_counter() - started, 1)}


def dev_runs_parser(description: str) -> argparse.ArgumentParser:
    """The options of a bench over dev-fifth runs: sets, seeds, workers, output file."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sets", nargs="+", default=["trec", "airline_tweets", "banking77_longtail"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    return parser


def main():
    args = dev_runs_parser(__doc__.splitlines()[0]).parse_args()
    jobs = [(s, seed, arm) for s in args.sets for seed in args.seeds for arm in ARMS]
    with ProcessPoolExecutor(args.workers) as workers:
        rows = list(workers.map(one, jobs))
    summary = {}
    for s in args.sets:
        base = {r["seed"]: r["dev_macro_f1"] for r in rows if r["set"] == s and r["arm"] == next(iter(ARMS))}
        summary[s] = {}
        for arm in ARMS:
            mine = {r["seed"]: r["dev_macro_f1"] for r in rows if r["set"] == s and r["arm"] == arm}
            diffs = np.array([mine[k] - base[k] for k in base])
            summary[s][arm] = {"dev_macro_f1_mean": round(float(np.mean(list(mine.values()))), 4),
                               "minus_default": round(float(diffs.mean()), 4),
                               "standard_error": round(float(diffs.std(ddof=1) / np.sqrt(len(diffs))), 4)
                               if len(diffs) > 1 else None}
    out = {"command": "python bench/full_pool_penalty.py " + " ".join(sys.argv[1:]),
           "what": "simulate's full-pool fit (every pool row labeled) per class weighting and C, dev fifth of the "
                   "pool held out per seed, test split unread; minus_default paired per seed",
           "summary": summary, "runs": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
