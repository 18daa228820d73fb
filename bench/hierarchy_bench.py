"""Flat vs coarse → fine vs the out-of-fold choice ("auto", the default) in the loop.

Runs ``manage.py simulate`` (default strategy, budget 1,000 in waves of 100, test split) on the
sets with coarse labels, for each structure and seed, and writes ``bench/results/hierarchy.json``:
per set and structure the seed-mean curve mean (100–1,000 labels), the final macro-F1 and the
full-pool macro-F1, per seed as well, plus how often "auto" chose each structure. The per-run
files go to ``bench/results/sim_hierarchy/<set>/<structure>/``.

    OMP_NUM_THREADS=1 python bench/hierarchy_bench.py [--sets trec airline_tweets] [--seeds 0 1 2] \
        [--train '{"self_training": false}']
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
RUNS = ROOT / "bench" / "results" / "sim_hierarchy"
OUT = ROOT / "bench" / "results" / "hierarchy.json"
MODES = ("auto", "flat", "coarse_then_fine")


EXTRA: dict = {}


def run_one(job: tuple[str, str, int, dict]) -> tuple[str, str, int, float]:
    import django

    django.setup()
    from django.core.management import call_command

    name, mode, seed, extra = job
    out = RUNS / name / mode
    started = time.perf_counter()
    call_command("simulate", data=str(DATASETS / f"{name}.jsonl"), budget=1000, wave_size=100,
                 strategy="default", seed=seed, out=str(out), no_progress=True,
                 train=json.dumps({"hierarchy": mode, **extra}))
    return name, mode, seed, time.perf_counter() - started


def summarise(name: str, seeds: list[int]) -> dict:
    out = {}
    seeds = [s for s in seeds if all((RUNS / name / m / f"default-seed{s}.json").exists() for m in MODES)]
    if not seeds:
        return {"note": "no seed finished for every arm"}
    out["seeds_complete"] = seeds
    for mode in MODES:
        runs = [json.loads((RUNS / name / mode / f"default-seed{s}.json").read_text()) for s in seeds]
        curves = np.array([[w["macro_f1"] for w in r["waves"]] for r in runs])
        out[mode] = {
            "curve_mean_per_seed": [round(float(c.mean()), 4) for c in curves],
            "curve_mean": round(float(curves.mean()), 4),
            "final_per_seed": [round(float(c[-1]), 4) for c in curves],
            "final": round(float(curves[:, -1].mean()), 4),
            "full_pool_per_seed": [round(float(r["full_pool_macro_f1"]), 4) for r in runs],
            "seconds_per_wave": round(float(np.mean([w["seconds"] for r in runs for w in r["waves"]])), 2),
            "seed_mean_curve": [round(float(v), 4) for v in curves.mean(axis=0)],
        }
    best = max(out["flat"]["curve_mean"], out["coarse_then_fine"]["curve_mean"])
    diffs = [a - max(f, t) for a, f, t in zip(out["auto"]["curve_mean_per_seed"], out["flat"]["curve_mean_per_seed"],
                                              out["coarse_then_fine"]["curve_mean_per_seed"], strict=True)]
    out["auto_minus_better_fixed"] = {
        "curve_mean": round(out["auto"]["curve_mean"] - best, 4),
        "per_seed_vs_better_of_that_seed": [round(d, 4) for d in diffs],
        "flat_minus_tree_per_seed": [round(f - t, 4) for f, t in zip(
            out["flat"]["curve_mean_per_seed"], out["coarse_then_fine"]["curve_mean_per_seed"], strict=True)],
    }
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["trec", "airline_tweets"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--summarise-only", action="store_true")
    parser.add_argument("--train", default="{}", help="extra TrainConfig fields for every arm (JSON)")
    args = parser.parse_args()
    extra = json.loads(args.train)
    # seeds outermost: the first seed of every arm finishes first when the run is cut short
    jobs = [(name, mode, seed, extra) for seed in args.seeds for name in args.sets for mode in MODES
            if not (RUNS / name / mode / f"default-seed{seed}.json").exists()]  # resumes a cut-short run
    times = {}
    if not args.summarise_only:
        with ProcessPoolExecutor(args.workers) as pool:
            for name, mode, seed, seconds in pool.map(run_one, jobs):
                times[f"{name}/{mode}/seed{seed}"] = round(seconds, 1)
                print(f"{name} {mode} seed {seed}: {seconds:.0f} s", flush=True)
    result = {
        "what": "default strategy, budget 1000 in waves of 100, test split; curve_mean = mean macro-F1 over the "
                "10 points 100-1000 labels; auto = structure and fallback floor chosen per retrain by "
                "out-of-fold macro-F1 (learner/training/hierarchy_choice.py)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions (loaded); "
                   "OMP_NUM_THREADS=1",
        "seeds": args.seeds,
        "train_options_every_arm": extra,
        "run_seconds": times,
        "sets": {name: summarise(name, args.seeds) for name in args.sets},
    }
    OUT.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v["auto_minus_better_fixed"] for k, v in result["sets"].items()}, indent=1))


if __name__ == "__main__":
    main()
