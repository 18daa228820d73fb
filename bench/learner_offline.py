"""Learner variants compared on the same labeled sets, without the loop's feedback.

A change to the learner moves the whole active-learning path (the planner reads the model), so
its effect on the loop is a paired difference over many runs (``bench/sim_siblings.py``), and a
full-loop run per variant costs minutes per sibling. This script isolates the learner: the default
loop runs once per banking77 sibling (banking77's train split only, as in
``bench/sim_siblings.py``; the test split is never read), the labeled set after every wave is
rebuilt from the run's ``labeled_wave``, and each variant retrains on exactly those sets as the
simulation's retrain does (``learner.simulation.pool.train_simulated_model``: the same unlabeled
sample, label vectors and seeds), scored by macro-F1 on the sibling's balanced dev rows. The
differences are paired per (sibling, wave) against the first variant, with standard errors over
siblings. It screens: a variant that wins here is then run through the loop.

    OMP_NUM_THREADS=1 python bench/learner_offline.py --siblings 6 --waves 3 4 5 6 7 \\
        --variant today '{}' --variant t07conf '{"pseudo_threshold": 0.7, "pseudo_weighting": "confidence"}' \\
        --out bench/results/learner_offline.json
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sim_siblings import CACHE, label_vectors_file, run_one, sibling_dataset, standard_error  # noqa: E402

from learner.metrics import classification_report  # noqa: E402
from learner.simulation import SimConfig  # noqa: E402
from learner.simulation.pool import SimPool, train_simulated_model  # noqa: E402
from learner.simulation.run import simulation_train_config  # noqa: E402

RUNS = CACHE.parent / "learner_offline"


def loop_run(sibling: int, dev_per_class: int) -> dict:
    """The default loop on one sibling (kept under bench/.cache: it is an input, not a result)."""
    path = RUNS / f"sibling{sibling}-dev{dev_per_class}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = run_one((sibling, "default", {}, dev_per_class))
    RUNS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def score(args) -> dict:
    sibling, waves, variants, dev_per_class = args
    run = loop_run(sibling, dev_per_class)
    data, emb = sibling_dataset(sibling, dev_per_class)
    pool_rows, dev = np.flatnonzero(~data.is_test), np.flatnonzero(data.is_test)
    names = sorted(set(data.labels.tolist()))
    pool = SimPool(item_ids=pool_rows, texts=[data.texts[i] for i in pool_rows], sources=data.sources[pool_rows],
                   embeddings=emb[pool_rows], label_names=names, label_vectors=np.load(label_vectors_file()))
    labeled = np.searchsorted(pool_rows, np.array(run["labeled_rows"]))
    answered_in = np.array(run["labeled_wave"])
    loop_f1 = {w["wave"]: w["macro_f1"] for w in run["waves"]}
    out = {"sibling": sibling, "waves": {}}
    for wave in waves:
        rows = labeled[answered_in <= wave]
        entry = {"labels": int(len(rows)), "loop_macro_f1": loop_f1.get(wave)}
        for name, variant in variants.items():
            config = simulation_train_config(SimConfig(seed=sibling, train_options=variant))
            t0 = time.perf_counter()
            model = train_simulated_model(pool, rows, data.labels[pool_rows][rows], config=config, version=wave)
            report = classification_report(list(data.labels[dev]), list(model.predict(emb[dev])), None, names)
            entry[name] = {"macro_f1": report["macro_f1"], "seconds": round(time.perf_counter() - t0, 2),
                           "pseudo_rows": (model.report.get("self_training") or {}).get("pseudo_rows", 0)}
        out["waves"][str(wave)] = entry
        print(f"sibling {sibling} wave {wave}: " + ", ".join(f"{k} {entry[k]['macro_f1']:.4f}" for k in variants),
              flush=True)
    return out


def summarise(results: list[dict], names: list[str], waves: list[int]) -> dict:
    base = names[0]
    table = {}
    for name in names:
        per_wave = {}
        for wave in waves:
            values = np.array([r["waves"][str(wave)][name]["macro_f1"] for r in results])
            diffs = values - np.array([r["waves"][str(wave)][base]["macro_f1"] for r in results])
            per_wave[str(wave)] = {"mean": round(float(values.mean()), 4),
                                   "diff": [round(float(diffs.mean()), 4), round(standard_error(diffs), 4)]}
        over = np.array([np.mean([r["waves"][str(w)][name]["macro_f1"] - r["waves"][str(w)][base]["macro_f1"]
                                  for w in waves]) for r in results])
        table[name] = {"per_wave": per_wave, "diff_over_waves": [round(float(over.mean()), 4),
                                                                 round(standard_error(over), 4)]}
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--siblings", type=int, default=6)
    parser.add_argument("--first-sibling", type=int, default=100)
    parser.add_argument("--dev-per-class", type=int, default=20)
    parser.add_argument("--waves", type=int, nargs="+", default=[3, 4, 5, 6, 7])
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    variants = {name: json.loads(text) for name, text in args.variant}
    label_vectors_file()
    siblings = range(args.first_sibling, args.first_sibling + args.siblings)
    started = time.time()
    with ProcessPoolExecutor(args.workers) as ex:
        results = list(ex.map(score, [(s, args.waves, variants, args.dev_per_class) for s in siblings]))
    summary = summarise(results, list(variants), args.waves)
    args.out.write_text(json.dumps({"command": "python bench/learner_offline.py " + " ".join(sys.argv[1:]),
                                    "variants": variants, "waves": args.waves, "summary": summary,
                                    "seconds": round(time.time() - started), "runs": results}, indent=1))
    for name, row in summary.items():
        print(name, row["diff_over_waves"], {w: v["diff"] for w, v in row["per_wave"].items()})


if __name__ == "__main__":
    main()
