"""Label efficiency of two versions of the code side by side, on the same machine, over many seeds.

The simulation is chaotic at the level of floating point: a planner choice that turns on the last
bits of a probability (a tie in margins, a BLAS summation order that depends on the thread count)
changes one pick, and the rest of the run follows another path. Runs of one commit usually
reproduce exactly on one machine with ``OMP_NUM_THREADS=1``, but not always (docs/simulation.md);
a re-run elsewhere, or with other thread settings, is another draw of that path. A 3-seed mean
therefore moves by about its seed-to-seed spread between machines, and "no worse than before" is only measurable with both versions run
here, with enough seeds to see a difference of a few thousandths.

Each ``--code NAME=COMMIT`` is checked out into a temporary git worktree (``.`` = this checkout as
it is) and its own ``manage.py simulate`` runs the default strategy (budget 1,000, waves of 100,
test split) on every set and seed, single-threaded, with the embeddings of ``bench/.cache/emb``.
``--train NAME=JSON`` gives one code's runs extra training options (``simulate --train``), to
see what a knob is worth on the same code. ``--dev-fraction F`` evaluates on a share F of each pool
held out per seed (``simulate --dev-fraction``) instead of the test split, for choosing between
variants without reading it. Runs land in
``bench/results/<--out>/<NAME>/<set>/default-seed<K>.json``; a run already there is kept. The summary (``<--out>/summary.json``) gives per set and code the mean macro-F1 over
100-1,000 labels over all seeds with its standard error, over seeds 0-2 alone, the seed-mean curve,
labels to 95 % of the full pool, the value at 500 labels and how many runs reach 95 % there, the
last wave's value, the evaluation split's ECE (waves at most 0.03, median per wave, mean), and the
paired difference of every code against each code named before it (curve mean, last wave, mean ECE).

    python bench/code_seeds.py --code issue=c3e12ba --code now=. --sets airline_tweets trec \\
        --seeds 0 1 2 3 4 5 6 7 8 9 --out sim_code_seeds
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sim_siblings import standard_error  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache" / "emb"
RESULTS = ROOT / "bench" / "results"


def checkout(commit: str, scratch: Path) -> Path:
    if commit == ".":
        return ROOT
    path = scratch / commit
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), commit],
                       check=True, capture_output=True)
    return path


def run_one(code_dir: Path, data_set: str, seed: int, out: Path, train: str | None = None,
            dev_fraction: float = 0.0) -> str:
    target = out / f"default-seed{seed}.json"
    if target.exists():
        return f"{out} seed {seed}: kept"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "manage.py", "simulate", "--data", str(DATASETS / f"{data_set}.jsonl"),
               "--embeddings", str(CACHE / f"{data_set}.npy"), "--budget", "1000", "--wave-size", "100",
               "--strategy", "default", "--seed", str(seed), "--no-progress", "--out", str(out)]
    if train:
        command += ["--train", train]
    if dev_fraction:
        command += ["--dev-fraction", str(dev_fraction)]
    done = subprocess.run(command, cwd=code_dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{code_dir} {data_set} seed {seed}: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"{out} seed {seed}: done"


def summarise(directory: Path) -> dict:
    runs = sorted((json.loads(f.read_text()) for f in directory.glob("default-seed*.json")), key=lambda r: r["seed"])
    labels = [w["labels"] for w in runs[0]["waves"]]
    curves = np.array([[w["macro_f1"] for w in r["waves"]] for r in runs])
    per_seed = curves.mean(axis=1)
    full = float(np.mean([r["full_pool_macro_f1"] for r in runs]))
    mean_curve = curves.mean(axis=0)
    first3 = [i for i, r in enumerate(runs) if r["seed"] in (0, 1, 2)]
    ece = np.array([[np.nan if w.get("ece") is None else w["ece"] for w in r["waves"]] for r in runs])
    return {
        "seeds": [r["seed"] for r in runs],
        "full_pool": round(full, 4),
        "mean_macro_f1_100_1000": round(float(per_seed.mean()), 4),
        "standard_error": round(standard_error(per_seed), 4) if len(runs) > 1 else None,
        "mean_seeds_0_2": round(float(per_seed[first3].mean()), 4) if len(first3) == 3 else None,
        "mean_per_seed": {r["seed"]: round(float(v), 4) for r, v in zip(runs, per_seed, strict=True)},
        "seed_mean_curve": [round(float(v), 4) for v in mean_curve],
        "at_500": round(float(mean_curve[labels.index(500)]), 4) if 500 in labels else None,
        # how far the seed-mean at 500 labels lies from 95 % of the full pool, and its standard
        # error over the seeds (a margin of a few 1e-5 is at the line, not past it)
        "at_500_minus_goal": (round(float(mean_curve[labels.index(500)] - 0.95 * full), 5)
                              if 500 in labels else None),
        "at_500_standard_error": (round(standard_error(curves[:, labels.index(500)]), 4)
                                  if 500 in labels and len(runs) > 1 else None),
        "runs_at_95pct_by_500": (int(sum(c[labels.index(500)] >= 0.95 * r["full_pool_macro_f1"]
                                         for c, r in zip(curves, runs, strict=True))) if 500 in labels else None),
        "last_wave_per_seed": {r["seed"]: round(float(c[-1]), 4) for r, c in zip(runs, curves, strict=True)},
        "last_wave": round(float(curves[:, -1].mean()), 4),
        "at_500_seeds_0_2": (round(float(curves[first3, labels.index(500)].mean()), 4)
                             if len(first3) == 3 and 500 in labels else None),
        "goal_95pct": round(0.95 * full, 4),
        "labels_to_95pct_of_full_pool": next((n for n, f in zip(labels, mean_curve, strict=True)
                                              if f >= 0.95 * full), "not reached"),
        # top-label ECE (15 bins) on the evaluation split (test, or dev with --dev-fraction), as simulate
        # reports it per wave
        "ece_waves_at_most_0.03": f"{int(np.sum(ece <= 0.03))} of {int(np.sum(~np.isnan(ece)))}",
        "ece_median_per_wave": [round(float(v), 3) for v in np.nanmedian(ece, axis=0)],
        "ece_mean": round(float(np.nanmean(ece)), 4),
        "ece_mean_per_seed": {r["seed"]: round(float(np.nanmean(e)), 4) for r, e in zip(runs, ece, strict=True)},
        # what a retrain costs: seconds per wave (plan + retrain + evaluation, as simulate times it;
        # runs of different codes may come from different sessions, so a rough guide, not a paired
        # timing) and pseudo-labeled rows per retrain
        "wave_seconds_mean": round(float(np.mean([w["seconds"] for r in runs for w in r["waves"]])), 2),
        "pseudo_labeled_mean": round(float(np.mean([w.get("pseudo_labeled", 0) for r in runs for w in r["waves"]]))),
        **penalties(runs),
    }


def penalties(runs: list[dict]) -> dict:
    """How often each logistic-regression C served a wave, and the full pool (what penalty="auto"
    chose); empty for runs made before simulate recorded it."""
    waves = Counter(f"{w['C']:g}" for r in runs for w in r["waves"] if w.get("C") is not None)
    full = Counter(f"{r['full_pool_C']:g}" for r in runs if r.get("full_pool_C") is not None)
    return {"C_per_wave": dict(sorted(waves.items())), "full_pool_C": dict(sorted(full.items()))} if waves else {}


def paired(a: dict, b: dict) -> dict:
    seeds = sorted(set(a["mean_per_seed"]) & set(b["mean_per_seed"]))
    diffs = np.array([b["mean_per_seed"][s] - a["mean_per_seed"][s] for s in seeds])
    last = np.array([b["last_wave_per_seed"][s] - a["last_wave_per_seed"][s] for s in seeds])
    ece = {}
    if "ece_mean_per_seed" in a and "ece_mean_per_seed" in b:
        d_ece = np.array([b["ece_mean_per_seed"][s] - a["ece_mean_per_seed"][s] for s in seeds])
        ece = {"diff_ece_mean": round(float(d_ece.mean()), 4),
               "standard_error_ece_mean": round(standard_error(d_ece), 4) if len(d_ece) > 1 else None}
    return {**ece, "seeds": len(seeds), "diff": round(float(diffs.mean()), 4),
            "standard_error": round(standard_error(diffs), 4) if len(diffs) > 1 else None,
            "diff_last_wave": round(float(last.mean()), 4),
            "standard_error_last_wave": round(standard_error(last), 4) if len(last) > 1 else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", required=True, metavar="NAME=COMMIT")
    parser.add_argument("--train", action="append", default=[], metavar="NAME=JSON",
                        help="TrainConfig fields for one code's runs (simulate --train), e.g. to take a knob back")
    parser.add_argument("--sets", nargs="+", default=["banking77_longtail", "trec", "airline_tweets"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--out", default="sim_code_seeds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dev-fraction", type=float, default=0.0,
                        help="evaluate on this share of the pool held out (simulate --dev-fraction), not the test split")
    args = parser.parse_args()
    codes = dict(item.split("=", 1) for item in args.code)
    trains = dict(item.split("=", 1) for item in args.train)
    out_root = RESULTS / args.out
    with tempfile.TemporaryDirectory(prefix="code-seeds-") as scratch:
        checkouts = {commit: checkout(commit, Path(scratch)) for commit in set(codes.values())}
        dirs = {name: checkouts[commit] for name, commit in codes.items()}
        jobs = [(dirs[name], s, seed, out_root / name / s, trains.get(name), args.dev_fraction)
                for s in args.sets for seed in args.seeds for name in codes]
        try:
            with ThreadPoolExecutor(args.workers) as pool:
                for line in pool.map(lambda job: run_one(*job), jobs):
                    print(line, flush=True)
        finally:
            for commit in set(codes.values()):
                if commit != ".":
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                    str(Path(scratch) / commit)], capture_output=True)
    evaluated_on = (f"a dev split of {args.dev_fraction:g} of the pool (the test split unread)"
                    if args.dev_fraction else "test split")
    summary = {"what": f"default strategy, budget 1000 in waves of 100, {evaluated_on}; every code run here, "
                       "single-threaded (OMP_NUM_THREADS=1), on the same embeddings",
               "command": "python bench/code_seeds.py " + " ".join(sys.argv[1:]),
               "codes": codes, "train_options": trains, "sets": {}}
    names = list(codes)
    for s in args.sets:
        rows = {name: summarise(out_root / name / s) for name in names}
        for i, name in enumerate(names):
            for base in names[:i]:
                rows[name]["paired_vs_" + base] = paired(rows[base], rows[name])
        summary["sets"][s] = rows
    (out_root / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    for s, rows in summary["sets"].items():
        for name, row in rows.items():
            print(s, name, row["mean_macro_f1_100_1000"], "±", row["standard_error"], "seeds 0-2:",
                  row["mean_seeds_0_2"], "at 500:", row["at_500"], row.get("paired_vs_" + names[0]))


if __name__ == "__main__":
    main()
