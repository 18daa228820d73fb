"""Active-learning simulation: the product's planner and learner against an oracle that answers
from a dataset's labels. No web server, no database; ``manage.py simulate`` is a thin wrapper over
:func:`run_simulation`. Each wave is planned and each model retrained through ``pool`` (the same
glue as the product's); see docs/simulation.md for the result format.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from learner.simulation.data import DataError, Dataset, check_embeddings, split_pool_dev, split_pool_test
from learner.simulation.estimates import EstimateTracker
from learner.simulation.evaluate import evaluate_model
from learner.simulation.final_model import final_model_entry, simulation_finetune_config
from learner.simulation.pool import SimPool, plan_simulated_wave, pool_proba, train_simulated_model
from learner.simulation.presets import PRESETS, SimConfig, planner_config
from learner.training import TrainConfig

RESULT_KEYS = ("wave", "labels", "macro_f1", "micro_f1", "rare_recall", "classes_ge1", "classes_ge3",
               "rare_ge1", "rare_ge3", "ece", "seconds")


def served_c(model) -> float | None:
    """The logistic-regression C a trained model used (what ``penalty="auto"`` chose), None for other heads."""
    return ((model.report.get("choices") or {}).get("head") or {}).get("C")


def rarest_classes(pool_labels: np.ndarray, fraction: float = 0.2) -> list[str]:
    """The rarest ``fraction`` of classes by pool frequency (at least one; ties by name)."""
    names, counts = np.unique(pool_labels, return_counts=True)
    order = sorted(range(len(names)), key=lambda i: (counts[i], str(names[i])))
    n = max(1, int(round(fraction * len(names))))
    return [str(names[i]) for i in order[:n]]


def simulation_train_config(sim: SimConfig) -> TrainConfig:
    """The training options of a simulated retrain: the run's seed, then its ``train_options``."""
    return TrainConfig.from_dict({"seed": sim.seed, **sim.train_options})


def run_simulation(data: Dataset, embeddings: np.ndarray, sim: SimConfig, *,
                   label_vectors: np.ndarray | None = None, rules: list[tuple[str, re.Pattern]] | None = None,
                   full_pool_macro_f1: float | None = None, progress: bool = True, estimate_truth: bool = False,
                   model_path: str | None = None) -> dict:
    """Run one preset with one seed; return the result dict (see docs/simulation.md).
    ``estimate_truth``: also store what each wave's estimates aim at (learner.simulation.estimates).
    With ``sim.finetune_options`` (not None) the final model is trained after the last wave from the
    encoder at ``model_path`` and scored (``final_model`` in the result)."""
    if sim.strategy not in PRESETS:
        raise ValueError(f"unknown strategy {sim.strategy!r}; choose one of {', '.join(PRESETS)}")
    if sim.wave_size <= 0 or sim.budget <= 0:
        raise ValueError("budget and wave size must be positive")
    finetune = None
    if sim.finetune_options is not None:
        finetune = simulation_finetune_config(sim)  # refuses bad options before any wave runs
        if not model_path:
            raise ValueError("the final-model step needs model_path (the sentence-transformers encoder folder)")
    embeddings = check_embeddings(embeddings, len(data.labels), data.path)
    pool_rows, test = split_pool_test(data, sim.seed, sim.test_fraction)
    if len(test) == 0:
        raise DataError(f"{data.path}: no test rows to evaluate on")
    n_test, evaluated_on = len(test), "test"
    if sim.dev_fraction > 0:
        if not sim.dev_fraction < 1:
            raise ValueError("dev fraction must be in [0, 1)")
        # Tuning mode: evaluate on a dev part of the pool; the test rows are not read at all.
        pool_rows, test = split_pool_dev(data, pool_rows, sim.seed, sim.dev_fraction)
        evaluated_on = "dev"
        if len(test) == 0:
            raise DataError(f"{data.path}: the dev fraction {sim.dev_fraction} leaves no dev rows")
    pool_rows = np.sort(pool_rows)
    label_names = sorted(set(data.labels.tolist()))
    label_index = {name: i for i, name in enumerate(label_names)}
    k = len(label_names)
    for label, pattern in rules or []:
        if label not in label_index:
            raise DataError(f"rule {pattern.pattern!r}: label {label!r} is not a label of {data.path}")
    parents = None
    if data.coarse is not None and sim.use_hierarchy:
        parents = {str(f): str(c) for f, c in zip(data.labels, data.coarse, strict=True)}
    pool = SimPool(item_ids=pool_rows, texts=[data.texts[i] for i in pool_rows], sources=data.sources[pool_rows],
                   embeddings=embeddings[pool_rows], label_names=label_names, label_vectors=label_vectors,
                   rules=rules)
    y_pool = np.array([label_index[v] for v in data.labels[pool_rows]], dtype=np.int64)
    X_test, y_test = embeddings[test], data.labels[test]
    pool_counts = np.bincount(y_pool, minlength=k)
    present = [label_names[i] for i in range(k) if pool_counts[i] > 0]
    rare_classes = rarest_classes(data.labels[pool_rows])
    rare_idx = np.array([label_index[c] for c in rare_classes])
    train_config = simulation_train_config(sim)

    def retrain(rows: np.ndarray, version: int):
        names = np.array(label_names, dtype=object)[y_pool[rows]]
        return train_simulated_model(pool, rows, names, config=train_config, version=version, parents=parents,
                                     targets=sim.targets, self_training_rows=sim.self_training_rows)

    full_pool_c = None
    if full_pool_macro_f1 is None:
        model = retrain(np.arange(len(pool_rows)), 0)
        full_pool_macro_f1 = evaluate_model(model, X_test, y_test, label_names, label_index, rare_classes)["macro_f1"]
        full_pool_c = served_c(model)

    labeled = np.zeros(len(pool_rows), bool)
    answered_in = np.zeros(len(pool_rows), dtype=np.int64)  # the wave that labeled each row
    tracker = EstimateTracker(pool, y_pool, label_names, truth=estimate_truth)
    labeled_y = np.full(len(pool_rows), -1, dtype=np.int64)
    proba = None
    waves = []
    n_waves = int(np.ceil(sim.budget / sim.wave_size))
    bar = tqdm(total=n_waves, desc=f"{Path(data.path).stem} {sim.strategy} seed {sim.seed}", file=sys.stderr,
               disable=not progress, leave=False)
    for wave in range(1, n_waves + 1):
        t0 = time.perf_counter()
        size = min(sim.wave_size, sim.budget - int(labeled.sum()))
        config = planner_config(sim, first_wave=proba is None, wave_size=size)
        if sim.strategy != "default" or "wave_number" not in sim.planner_options:  # --planner's, when given
            # as the product plans wave w (labeling.waves.services): equal quotas take the odd slot in turn
            config.wave_number = wave
        plan = plan_simulated_wave(pool, labeled, labeled_y, proba, config, seed=sim.seed * 1000 + wave)
        rows = np.array([p.row for p in plan.picks], dtype=np.int64)
        tracker.add_wave(wave, plan, labeled)
        labeled[rows] = True
        answered_in[rows] = wave
        labeled_y[rows] = y_pool[rows]  # the oracle answers
        counts = np.bincount(labeled_y[labeled], minlength=k)
        entry = {"wave": wave, "labels": int(labeled.sum())}
        if (counts > 0).sum() >= 2:
            model = retrain(np.flatnonzero(labeled), wave)
            proba = pool_proba(pool, model)
            tracker.add_model(wave, model, X_test, y_test)
            metrics = evaluate_model(model, X_test, y_test, label_names, label_index, rare_classes)
            metrics["pseudo_labeled"] = (model.report.get("self_training") or {}).get("pseudo_rows", 0)
            metrics["label_prior_rows"] = (model.report.get("label_prior") or {}).get("labels", 0)
            metrics["structure"] = (model.report.get("choices") or {}).get("structure")  # what hierarchy="auto" chose
            metrics["C"] = served_c(model)
        else:
            metrics = {"macro_f1": 0.0, "micro_f1": 0.0, "rare_recall": 0.0, "ece": None, "pseudo_labeled": 0,
                       "label_prior_rows": 0, "structure": None, "C": None}
        entry.update(metrics)
        entry.update({
            "classes_ge1": int((counts >= 1).sum()), "classes_ge3": int((counts >= 3).sum()),
            "rare_ge1": int((counts[rare_idx] >= 1).sum()), "rare_ge3": int((counts[rare_idx] >= 3).sum()),
            "seconds": round(time.perf_counter() - t0, 3),
            "composition": plan.report["strategy_achieved"],
        })
        waves.append(entry)
        bar.update(1)
        bar.set_postfix(labels=entry["labels"], macro_f1=f"{entry['macro_f1']:.3f}")
        if labeled.sum() >= sim.budget or labeled.all():
            break
    bar.close()
    tracker.attach(waves)
    result = {
        "data": data.path, "strategy": sim.strategy, "seed": sim.seed, "pool": int(len(pool_rows)),
        "pool_splits": list(data.pool_splits),
        "test": int(n_test), "evaluated_on": evaluated_on,
        "dev": int(len(test)) if evaluated_on == "dev" else 0,
        "classes": int(len(present)), "full_pool_macro_f1": full_pool_macro_f1,
        "full_pool_C": full_pool_c,
        "waves": waves,
        # Dataset line numbers (0-based) of the labeled rows at the end, for steps after the budget
        # (e.g. bench/final_model_bench.py fine-tunes on exactly these).
        "labeled_rows": [int(r) for r in pool_rows[labeled]],
        "labeled_wave": [int(w) for w in answered_in[labeled]],  # per labeled row: the wave that labeled it
        "config": {"budget": sim.budget, "wave_size": sim.wave_size, "rare_threshold": sim.rare_threshold,
                   "random_share": sim.random_share if sim.strategy == "default" else None,
                   "strategy_mix": sim.strategy_mix if sim.strategy == "default" else None,
                   "cold_start_mix": sim.cold_start_mix if sim.strategy == "default" else None,
                   "planner_options": sim.planner_options if sim.strategy == "default" else None,
                   "train_options": sim.train_options, "finetune_options": sim.finetune_options,
                   "hierarchy": parents is not None, "rare_classes": rare_classes},
    }
    if finetune is not None:
        done = np.flatnonzero(labeled)
        final_bar = tqdm(total=100, desc="final model", file=sys.stderr, disable=not progress, leave=False)

        def on_final_progress(share: float, message: str) -> None:
            final_bar.update(int(round(100 * share)) - final_bar.n)
            final_bar.set_postfix_str(message)

        # The product's final model is the version after the last wave's.
        result["final_model"] = final_model_entry(
            pool, done, np.array(label_names, dtype=object)[y_pool[done]], eval_texts=[data.texts[i] for i in test],
            y_eval=y_test, label_names=label_names, rare_classes=rare_classes,
            frozen_macro_f1=waves[-1]["macro_f1"], evaluated_on=evaluated_on, version=len(waves) + 1,
            model_path=model_path, config=train_config, finetune=finetune, parents=parents, targets=sim.targets,
            self_training_rows=sim.self_training_rows, on_progress=on_final_progress)
        final_bar.close()
    return result
