"""Does out-of-fold evidence on actively chosen labels rank penalties as the pool's traffic does?

Round 19 (``bench/results/sim/siblings/round19_penalty_choice.md``) chose logistic regression's
``C`` per retrain by out-of-fold macro-F1 on the labeled rows; in the loop it fired seldom, always
for a weaker penalty, and trec's runs ended lower where it did. The suspected reason: an active
learner labels the rows its model is unsure of, so a score over those rows is not a score over the
pool. This measures it without touching the product: for labeled sets of round 19's ``fixed`` runs
(``bench/results/sim_round19_dev/fixed/<set>/default-seed<K>.json``: the rows labeled by waves 3,
5, 7 and 10) and, as the control, uniformly random pool rows of the same size, it computes

- ``oof``: the out-of-fold macro-F1 per ``C`` that ``penalty="auto"`` computes (5, 10, 20, 40;
  self-training off, structure and prior chosen as the retrain would);
- ``dev``: the macro-F1 of each ``C`` trained on all of those rows as the retrain would (self-training
  off), on the run's dev fifth (pool rows held out of the loop; the test split is not read);

The two judges differ in more than the rows: ``oof`` is the plain argmax of the fold heads over
the labels in the held-out rows, ``dev`` the served decision (temperature, and for a taxonomy the
coarse → fine decoding) over every label. The random control carries the same difference, so the
active rows' effect is their gap beyond the control's.

It reports, per set and source, the mean gain of each ``C`` over 10 by both judges and their
difference (``oof_minus_dev``: positive = the labeled rows favour that ``C`` more than the dev rows
do), averaged per seed (a seed's waves are nested sets) with standard errors over seeds, and how
often each ``C`` is best by each judge.

    OMP_NUM_THREADS=1 python bench/oof_selection_bias.py --seeds 0 1 2 3 4 5 \\
        --out bench/results/oof_selection_bias.json
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from full_pool_penalty import dev_pool  # noqa: E402  (bench/ is sys.path[0] when run as a script)

from learner.simulation.pool import train_simulated_model  # noqa: E402
from learner.simulation.run import evaluate_model, rarest_classes, simulation_train_config  # noqa: E402
from learner.training import TrainConfig  # noqa: E402

RUNS = ROOT / "bench" / "results" / "sim_round19_dev" / "fixed"
WAVES = (3, 5, 7, 10)
CS = (5.0, 10.0, 20.0, 40.0)


def one(args) -> list[dict]:
    name, seed = args
    data, embeddings, config, pool, pool_rows, dev, label_names, parents = dev_pool(name, seed)
    run = json.loads((RUNS / name / f"default-seed{seed}.json").read_text())
    labeled = np.array(run["labeled_rows"]), np.array(run["labeled_wave"])
    label_index = {n: i for i, n in enumerate(label_names)}
    rare = rarest_classes(data.labels[pool_rows])
    base = replace(simulation_train_config(config), self_training=False, penalty="auto",
                   penalty_factors=tuple(c / 10.0 for c in CS if c != 10.0))
    out = []
    for wave in WAVES:
        ids = labeled[0][labeled[1] <= wave]
        active = np.searchsorted(pool_rows, ids)
        assert np.array_equal(pool_rows[active], ids), f"{name} seed {seed}: labeled rows outside the pool"
        rng = np.random.default_rng(1000 * seed + wave)
        for source, rows in (("active", active), ("random", rng.choice(len(pool_rows), len(active), replace=False))):
            labels = data.labels[pool_rows[rows]]
            auto = train_simulated_model(pool, rows, labels, config=base, version=wave, parents=parents)
            choice = auto.report["penalty_choice"]
            resolved = TrainConfig.from_dict({**auto.report["config"], "penalty": "fixed"})
            dev_f1 = {}
            for c in CS:
                model = train_simulated_model(pool, rows, labels, config=replace(resolved, C=c), version=wave,
                                              parents=parents)
                dev_f1[f"{c:g}"] = round(float(evaluate_model(model, embeddings[dev], data.labels[dev], label_names,
                                                              label_index, rare)["macro_f1"]), 4)
            out.append({"set": name, "seed": seed, "wave": wave, "source": source, "labels": int(len(rows)),
                        "structure": auto.report["config"]["hierarchy"],
                        "oof": {k.removeprefix("C="): v for k, v in choice["macro_f1"].items()},
                        "dev": dev_f1, "chosen": choice["chosen"]})
    return out


def se(values: np.ndarray) -> float | None:
    return round(float(values.std(ddof=1) / np.sqrt(len(values))), 4) if len(values) > 1 else None


def summarise(rows: list[dict]) -> dict:
    summary: dict = {}
    for name in sorted({r["set"] for r in rows}):
        summary[name] = {}
        for source in ("active", "random"):
            mine = [r for r in rows if r["set"] == name and r["source"] == source]
            seeds = sorted({r["seed"] for r in mine})
            entry = {"labeled_sets": len(mine), "seeds": len(seeds)}
            for c in (f"{c:g}" for c in CS if c != 10.0):
                # The waves of one seed are nested labeled sets: averaged per seed first, the standard
                # errors are over seeds.
                gain_oof = np.array([np.mean([r["oof"][c] - r["oof"]["10"] for r in mine if r["seed"] == k])
                                     for k in seeds])
                gain_dev = np.array([np.mean([r["dev"][c] - r["dev"]["10"] for r in mine if r["seed"] == k])
                                     for k in seeds])
                gap = gain_oof - gain_dev
                entry[f"C={c}"] = {"oof_gain": round(float(gain_oof.mean()), 4), "oof_gain_se": se(gain_oof),
                                   "dev_gain": round(float(gain_dev.mean()), 4), "dev_gain_se": se(gain_dev),
                                   "oof_minus_dev": round(float(gap.mean()), 4), "oof_minus_dev_se": se(gap)}
            order = ["10"] + [f"{c:g}" for c in CS if c != 10.0]  # ties go to the configured C, as in the choice
            best_oof = [max(order, key=r["oof"].get) for r in mine]
            best_dev = [max(order, key=r["dev"].get) for r in mine]
            entry["best_C_by_oof"] = {c: best_oof.count(c) for c in sorted(set(best_oof), key=float)}
            entry["best_C_by_dev"] = {c: best_dev.count(c) for c in sorted(set(best_dev), key=float)}
            entry["auto_chose_other_than_10"] = sum(r["chosen"] != 10.0 for r in mine)
            summary[name][source] = entry
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["trec", "airline_tweets", "banking77_longtail"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resummarise", action="store_true", help="recompute the summary of --out's rows")
    args = parser.parse_args()
    if args.resummarise:
        out = json.loads(args.out.read_text())
        out["summary"] = summarise(out["rows"])
        args.out.write_text(json.dumps(out, indent=1) + "\n")
        print(json.dumps(out["summary"], indent=1))
        return
    with ProcessPoolExecutor(args.workers) as workers:
        rows = [r for part in workers.map(one, [(s, k) for s in args.sets for k in args.seeds]) for r in part]
    out = {"command": "python bench/oof_selection_bias.py " + " ".join(sys.argv[1:]),
           "what": __doc__.split("\n\n")[1].replace("\n", " "), "waves": list(WAVES), "C": list(CS),
           "summary": summarise(rows), "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["summary"], indent=1))


if __name__ == "__main__":
    main()
