"""Does out-of-fold evidence on actively chosen labels rank choices (penalty, label-name prior, structure) as the pool does?

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

``--knobs prior`` asks the same of the label-name prior's choice (``label_prior="auto"``, the
product's default): its out-of-fold macro-F1 with and without the prior rows against the dev
rows' (labeled sets where the choice had no evidence, no label under ``label_prior_below`` rows,
are left out). ``--knobs structure`` asks it of the structure's choice (``hierarchy="auto"``, sets
with coarse labels: flat and coarse → fine against the blend).

    OMP_NUM_THREADS=1 python bench/oof_selection_bias.py --seeds 0 1 2 3 4 5 \\
        --out bench/results/oof_selection_bias.json
    OMP_NUM_THREADS=1 python bench/oof_selection_bias.py --knobs prior --seeds 0 1 2 3 4 5 \\
        --out bench/results/oof_selection_bias_prior.json
    OMP_NUM_THREADS=1 python bench/oof_selection_bias.py --knobs structure --sets trec airline_tweets \\
        --seeds 0 1 2 3 4 5 --out bench/results/oof_selection_bias_structure.json
"""
from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from full_pool_penalty import dev_pool, dev_runs_parser  # noqa: E402  (bench/ is sys.path[0] when run as a script)

from learner.simulation.pool import train_simulated_model  # noqa: E402
from learner.simulation.run import evaluate_model, rarest_classes, simulation_train_config  # noqa: E402
from learner.training import TrainConfig  # noqa: E402

RUNS = ROOT / "bench" / "results" / "sim_round19_dev" / "fixed"
WAVES = (3, 5, 7, 10)
CS = (5.0, 10.0, 20.0, 40.0)
# Per knob: the reference arm (today's choice when the evidence is not enough) and the others.
KNOBS = {"penalty": ("10", [f"{c:g}" for c in CS if c != 10.0]), "prior": ("off", ["on"]),
         "structure": ("blend", ["flat", "coarse_then_fine"])}
CHOICE_REPORT = {"penalty": "penalty_choice", "prior": "label_prior_choice", "structure": "hierarchy_choice"}


def knob_evidence(knob: str, pool, rows, labels, base, wave, parents):
    """(out-of-fold macro-F1 per arm as the retrain's choice computes it, the retrain's config with
    the other choices resolved), or (None, None) where the choice had no evidence to weigh."""
    auto = train_simulated_model(pool, rows, labels, config=base, version=wave, parents=parents)
    choice = auto.report[CHOICE_REPORT[knob]]
    if not choice or not choice.get("rows_compared"):
        return None, None
    oof = {k.removeprefix("C="): v for k, v in choice["macro_f1"].items()}
    return oof, TrainConfig.from_dict({**auto.report["config"], "penalty": "fixed"})


def arm_config(knob: str, resolved: TrainConfig, arm: str) -> TrainConfig:
    if knob == "penalty":
        return replace(resolved, C=float(arm))
    return replace(resolved, label_prior=arm) if knob == "prior" else replace(resolved, hierarchy=arm)


def one(args) -> list[dict]:
    name, seed, knob = args
    data, embeddings, config, pool, pool_rows, dev, label_names, parents = dev_pool(name, seed)
    run = json.loads((RUNS / name / f"default-seed{seed}.json").read_text())
    labeled = np.array(run["labeled_rows"]), np.array(run["labeled_wave"])
    label_index = {n: i for i, n in enumerate(label_names)}
    rare = rarest_classes(data.labels[pool_rows])
    base = replace(simulation_train_config(config), self_training=False)
    if knob == "penalty":
        base = replace(base, penalty="auto", penalty_factors=tuple(c / 10.0 for c in CS if c != 10.0))
    reference, others = KNOBS[knob]
    out = []
    for wave in WAVES:
        ids = labeled[0][labeled[1] <= wave]
        active = np.searchsorted(pool_rows, ids)
        assert np.array_equal(pool_rows[active], ids), f"{name} seed {seed}: labeled rows outside the pool"
        rng = np.random.default_rng(1000 * seed + wave)
        for source, rows in (("active", active), ("random", rng.choice(len(pool_rows), len(active), replace=False))):
            labels = data.labels[pool_rows[rows]]
            oof, resolved = knob_evidence(knob, pool, rows, labels, base, wave, parents)
            if oof is None:
                continue
            dev_f1 = {}
            for arm in (reference, *others):
                model = train_simulated_model(pool, rows, labels, config=arm_config(knob, resolved, arm), version=wave,
                                              parents=parents)
                dev_f1[arm] = round(float(evaluate_model(model, embeddings[dev], data.labels[dev], label_names,
                                                         label_index, rare)["macro_f1"]), 4)
            out.append({"set": name, "seed": seed, "wave": wave, "source": source, "knob": knob,
                        "labels": int(len(rows)), "structure": resolved.hierarchy, "oof": oof, "dev": dev_f1})
    return out


def se(values: np.ndarray) -> float | None:
    return round(float(values.std(ddof=1) / np.sqrt(len(values))), 4) if len(values) > 1 else None


def summarise(rows: list[dict]) -> dict:
    summary: dict = {}
    for knob, (reference, others) in KNOBS.items():
        for name in sorted({r["set"] for r in rows if r.get("knob", "penalty") == knob}):
            entry_set = summary.setdefault(knob, {}).setdefault(name, {})
            for source in ("active", "random"):
                mine = [r for r in rows if r.get("knob", "penalty") == knob and r["set"] == name
                        and r["source"] == source]
                seeds = sorted({r["seed"] for r in mine})
                entry = {"labeled_sets": len(mine), "seeds": len(seeds)}
                for arm in others:
                    # The waves of one seed are nested labeled sets: averaged per seed first, the
                    # standard errors are over seeds.
                    gain_oof = np.array([np.mean([r["oof"][arm] - r["oof"][reference] for r in mine
                                                  if r["seed"] == k]) for k in seeds])
                    gain_dev = np.array([np.mean([r["dev"][arm] - r["dev"][reference] for r in mine
                                                  if r["seed"] == k]) for k in seeds])
                    gap = gain_oof - gain_dev
                    entry[arm] = {"oof_gain": round(float(gain_oof.mean()), 4), "oof_gain_se": se(gain_oof),
                                  "dev_gain": round(float(gain_dev.mean()), 4), "dev_gain_se": se(gain_dev),
                                  "oof_minus_dev": round(float(gap.mean()), 4), "oof_minus_dev_se": se(gap)}
                order = [reference, *others]  # ties go to the reference, as in the choices
                best_oof = [max(order, key=r["oof"].get) for r in mine]
                best_dev = [max(order, key=r["dev"].get) for r in mine]
                entry["best_by_oof"] = {a: best_oof.count(a) for a in order if a in best_oof}
                entry["best_by_dev"] = {a: best_dev.count(a) for a in order if a in best_dev}
                entry_set[source] = entry
    return summary


def main():
    parser = dev_runs_parser(__doc__.splitlines()[0])
    parser.add_argument("--knobs", nargs="+", choices=list(KNOBS), default=["penalty"])
    parser.add_argument("--resummarise", action="store_true", help="recompute the summary of --out's rows")
    args = parser.parse_args()
    if args.resummarise:
        out = json.loads(args.out.read_text())
        out["summary"] = summarise(out["rows"])
        args.out.write_text(json.dumps(out, indent=1) + "\n")
        print(json.dumps(out["summary"], indent=1))
        return
    with ProcessPoolExecutor(args.workers) as workers:
        jobs = [(s, k, knob) for knob in args.knobs for s in args.sets for k in args.seeds]
        rows = [r for part in workers.map(one, jobs) for r in part]
    out = {"command": "python bench/oof_selection_bias.py " + " ".join(sys.argv[1:]),
           "what": __doc__.split("\n\n")[1].replace("\n", " "), "waves": list(WAVES), "C": list(CS),
           "summary": summarise(rows), "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["summary"], indent=1))


if __name__ == "__main__":
    main()
