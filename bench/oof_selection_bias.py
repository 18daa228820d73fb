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
- ``dev``: the macro-F1 of each arm trained on all of those rows as the retrain would (self-training
  off), on the run's dev fifth (pool rows held out of the loop; the test split is not read), over
  the labels the dev rows have; ``dev_seen``: the same over only the labels the training rows have
  (the labels the folds can score: a label known only by its prior row, or absent, is left out).

The two judges differ in more than the rows: ``oof`` is the plain argmax of fold heads trained on
four fifths of the rows, ``dev`` the served decision (temperature; for a taxonomy the coarse →
fine decoding, at floor 0 for the structure's arms as in its folds) of a model trained on all of
them. The random control carries those differences too, so the selection's part is the active
sets' gap minus the random sets' (``active_minus_random``, paired per seed over the (seed, wave)
pairs both sources have). Random sets of a long-tailed pool cover fewer labels than active ones
(``labels_present_mean``), which matters for the prior: ``dev_seen`` takes that out.

For the prior, ``oof_seen`` is the choice's score over only the labels each fold's training part
has (``macro_f1_seen_in_fold``): a label missing from a fold's training part can only be predicted
there by its prior row, while the served model has its rows; ``dev_seen`` is its counterpart.

It reports, per set and source, the mean gain of each arm over the reference by each judge and the
gaps (``oof_minus_dev``: positive = the labeled rows favour that arm more than the dev rows do),
averaged per seed (a seed's waves are nested sets) with standard errors over seeds, how often each
arm is best by each judge, and how often the choice itself (with its margin) left the reference.

``--knobs prior`` asks the same of the label-name prior's choice (``label_prior="auto"``, the
product's default: on against off) and ``--knobs structure`` of the structure's (``hierarchy="auto"``,
sets with coarse labels: flat and coarse → fine against the blend). Labeled sets where a choice had
no evidence (e.g. no label under ``label_prior_below`` rows) are listed under ``skipped``.

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
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from full_pool_penalty import dev_pool, dev_runs_parser  # noqa: E402  (bench/ is sys.path[0] when run as a script)
from sim_siblings import standard_error  # noqa: E402

from learner.simulation.pool import train_simulated_model  # noqa: E402
from learner.simulation.run import simulation_train_config  # noqa: E402
from learner.training import TrainConfig  # noqa: E402

RUNS = ROOT / "bench" / "results" / "sim_round19_dev" / "fixed"
WAVES = (3, 5, 7, 10)
CS = (5.0, 10.0, 20.0, 40.0)
# Per knob: the reference arm (today's choice when the evidence is not enough) and the others.
KNOBS = {"penalty": ("10", [f"{c:g}" for c in CS if c != 10.0]), "prior": ("off", ["on"]),
         "structure": ("blend", ["flat", "coarse_then_fine"])}
CHOICE_REPORT = {"penalty": "penalty_choice", "prior": "label_prior_choice", "structure": "hierarchy_choice"}


def knob_evidence(knob: str, pool, rows, labels, base, wave, parents):
    """(out-of-fold macro-F1 per arm as the retrain's choice computes it, the arm it chose, the
    retrain's config with the other choices resolved, why not, the same macro-F1 over only the
    labels each fold's training part has where the choice reports it), the first three None where
    the choice had no evidence."""
    auto = train_simulated_model(pool, rows, labels, config=base, version=wave, parents=parents)
    choice = auto.report[CHOICE_REPORT[knob]]
    if not choice or not choice.get("rows_compared") or not choice.get("macro_f1"):
        return None, None, None, (choice or {}).get("reason") or "the choice did not run", None
    oof = {k.removeprefix("C="): v for k, v in choice["macro_f1"].items()}
    chosen = f"{choice['chosen']:g}" if isinstance(choice["chosen"], float) else str(choice["chosen"])
    return (oof, chosen, TrainConfig.from_dict({**auto.report["config"], "penalty": "fixed"}), None,
            choice.get("macro_f1_seen_in_fold"))


def arm_config(knob: str, resolved: TrainConfig, arm: str) -> TrainConfig:
    if knob == "penalty":
        return replace(resolved, C=float(arm))
    if knob == "prior":
        return replace(resolved, label_prior=arm)
    # The structure's folds are scored without abstention (floor 0); the served floor is chosen on
    # the chosen structure only, so every structure is judged at floor 0 here too.
    return replace(resolved, hierarchy=arm, fine_floor=0.0)


def dev_scores(model, X_dev, y_dev, trained_labels: set) -> dict:
    """Dev macro-F1 over every label (``all``), and over the labels the training rows have
    (``seen``: the labels the folds can score; a label only its prior row knows is left out)."""
    predicted = np.array(model.predict(X_dev), dtype=object)
    seen = sorted(trained_labels & set(y_dev.tolist()))
    return {"all": round(float(f1_score(y_dev, predicted, labels=sorted(set(y_dev.tolist())), average="macro",
                                        zero_division=0)), 4),
            "seen": round(float(f1_score(y_dev, predicted, labels=seen, average="macro", zero_division=0)), 4)}


def one(args) -> dict:
    name, seed, knob = args
    data, embeddings, config, pool, pool_rows, dev, label_names, parents = dev_pool(name, seed)
    run = json.loads((RUNS / name / f"default-seed{seed}.json").read_text())
    labeled = np.array(run["labeled_rows"]), np.array(run["labeled_wave"])
    base = replace(simulation_train_config(config), self_training=False)
    if knob == "penalty":
        base = replace(base, penalty="auto", penalty_factors=tuple(c / 10.0 for c in CS if c != 10.0))
    reference, others = KNOBS[knob]
    out, skipped = [], []
    for wave in WAVES:
        ids = labeled[0][labeled[1] <= wave]
        active = np.searchsorted(pool_rows, ids)
        assert np.array_equal(pool_rows[active], ids), f"{name} seed {seed}: labeled rows outside the pool"
        rng = np.random.default_rng(1000 * seed + wave)
        for source, rows in (("active", active), ("random", rng.choice(len(pool_rows), len(active), replace=False))):
            labels = data.labels[pool_rows[rows]]
            oof, chosen, resolved, why_not, oof_seen = knob_evidence(knob, pool, rows, labels, base, wave, parents)
            if oof is None:
                skipped.append({"set": name, "seed": seed, "wave": wave, "source": source, "knob": knob,
                                "reason": why_not})
                continue
            dev_f1, dev_seen = {}, {}
            for arm in (reference, *others):
                model = train_simulated_model(pool, rows, labels, config=arm_config(knob, resolved, arm), version=wave,
                                              parents=parents)
                scores = dev_scores(model, embeddings[dev], data.labels[dev], set(labels.tolist()))
                dev_f1[arm], dev_seen[arm] = scores["all"], scores["seen"]
            out.append({"set": name, "seed": seed, "wave": wave, "source": source, "knob": knob, "chosen": chosen,
                        "labels": int(len(rows)), "labels_present": int(len(set(labels.tolist()))),
                        "structure": resolved.hierarchy, "oof": oof, "dev": dev_f1, "dev_seen": dev_seen}
                       | ({"oof_seen": oof_seen} if oof_seen else {}))
    return {"rows": out, "skipped": skipped}


def se(values: np.ndarray) -> float | None:
    return round(standard_error(values), 4) if len(values) > 1 else None


def seed_means(rows: list[dict], judge: str, arm: str, reference: str, seeds: list[int]) -> np.ndarray:
    """Per seed, the mean gain of ``arm`` over ``reference`` by ``judge`` (a seed's waves are nested
    labeled sets, so the seed is the unit of the standard errors)."""
    return np.array([np.mean([r[judge][arm] - r[judge][reference] for r in rows if r["seed"] == k]) for k in seeds])


def summarise(rows: list[dict]) -> dict:
    """Per knob, set and source: each arm's gain over the reference by the folds (``oof``), on every
    dev label (``dev``) and on the dev labels the training rows have (``dev_seen``), the gaps, and
    the active sets' gaps minus the random ones' (the selection's part), paired per seed over the
    (seed, wave) pairs both sources have."""
    summary: dict = {}
    for knob, (reference, others) in KNOBS.items():
        for name in sorted({r["set"] for r in rows if r.get("knob", "penalty") == knob}):
            mine = [r for r in rows if r.get("knob", "penalty") == knob and r["set"] == name]
            both = ({(r["seed"], r["wave"]) for r in mine if r["source"] == "active"}
                    & {(r["seed"], r["wave"]) for r in mine if r["source"] == "random"})
            mine = [r for r in mine if (r["seed"], r["wave"]) in both]
            seeds = sorted({k for k, _ in both})
            entry_set = summary.setdefault(knob, {}).setdefault(name, {"labeled_sets_per_source": len(both),
                                                                        "seeds": len(seeds)})
            gaps = {}
            for source in ("active", "random"):
                sub = [r for r in mine if r["source"] == source]
                entry = {"labels_present_mean": round(float(np.mean([r.get("labels_present", 0) for r in sub])), 1)}
                for arm in others:
                    gain = {judge: seed_means(sub, judge, arm, reference, seeds)
                            for judge in ("oof", "oof_seen", "dev", "dev_seen") if judge in sub[0]}
                    entry[arm] = {f"{judge}_gain": round(float(v.mean()), 4) for judge, v in gain.items()}
                    entry[arm] |= {f"{judge}_gain_se": se(v) for judge, v in gain.items()}
                    for folds, judge in (("oof", "dev"), ("oof", "dev_seen"), ("oof_seen", "dev_seen")):
                        if folds in gain and judge in gain:
                            gap = gain[folds] - gain[judge]
                            name_ = judge if folds == "oof" else f"{judge} by {folds}"
                            gaps[(source, arm, name_)] = gap
                            entry[arm][f"{folds}_minus_{judge}"] = round(float(gap.mean()), 4)
                            entry[arm][f"{folds}_minus_{judge}_se"] = se(gap)
                order = [reference, *others]  # ties go to the reference, as in the choices
                entry["best_by_oof"] = {a: sum(max(order, key=r["oof"].get) == a for r in sub) for a in order}
                entry["best_by_dev"] = {a: sum(max(order, key=r["dev"].get) == a for r in sub) for a in order}
                # how often the choice itself (with its margin) left the reference
                entry["choice_left_reference"] = sum(str(r.get("chosen")) != reference for r in sub if "chosen" in r)
                entry_set[source] = entry
            entry_set["active_minus_random"] = {
                f"{arm} ({judge})": {"gap": round(float((gaps[("active", arm, judge)]
                                                         - gaps[("random", arm, judge)]).mean()), 4),
                                     "se": se(gaps[("active", arm, judge)] - gaps[("random", arm, judge)])}
                for arm in others for judge in ("dev", "dev_seen", "dev_seen by oof_seen") if ("active", arm, judge) in gaps}
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
        parts = list(workers.map(one, jobs))
    rows = [r for part in parts for r in part["rows"]]
    skipped = [r for part in parts for r in part["skipped"]]
    out = {"command": "python bench/oof_selection_bias.py " + " ".join(sys.argv[1:]),
           "what": __doc__.split("\n\n")[1].replace("\n", " "), "waves": list(WAVES), "C": list(CS),
           "summary": summarise(rows), "rows": rows, "skipped": skipped}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["summary"], indent=1))


if __name__ == "__main__":
    main()
