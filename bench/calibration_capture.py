"""Run ``simulate``'s loop (default strategy, budget 1000 in waves of 100) on the dev sets and keep,
for every wave's model, what its calibration was fitted on and what it is judged on, so that
calibrators can be compared offline (``bench/calibration_diagnosis.py``) on exactly the product's
models:

- the out-of-fold logits, labels and labeled-row indices the product's calibration was fitted on
  (the last ``calibrate_and_evaluate`` call of the retrain: after self-training when it ran) and
  those of the first pass (before self-training);
- the rows the labeled-set row was left out of the out-of-fold predictions for (its label missing
  from its fold's training part);
- the served model's raw logits on the test split and on every pool row, its temperature;
- the out-of-fold (fold) models' raw logits on the test split and on every pool row (how much
  sharper the served model, trained on every row, is than the fold models the calibration saw);
- every pick's inclusion probability (None for ranked picks) and strategy.

Writes one ``.npz``-like pickle per run to the folder given (default /tmp/calib_capture).

    OMP_NUM_THREADS=1 python bench/calibration_capture.py [--sets ...] [--seeds 0 1 2] [--out DIR] [--train JSON]
"""
import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["HF_HUB_OFFLINE"] = "1"

import django  # noqa: E402

django.setup()

from estimate_coverage import SETS, dev_set  # noqa: E402  (bench/ is sys.path[0] when run as a script)

import learner.simulation.run as sim_run  # noqa: E402
import learner.training.fit as fit_module  # noqa: E402
import learner.training.oof as oof_module  # noqa: E402
from learner import simulation as sim  # noqa: E402

_calls: list[dict] = []
_waves: list[dict] = []
_picks: list[dict] = []
_fold_models: list = []
_oof_calls: list[list] = []


def _capture_fit_weighted(original):
    def wrapper(*args, **kwargs):
        model = original(*args, **kwargs)
        _fold_models.append(model)
        return model
    return wrapper


def _capture_out_of_fold(original):
    def wrapper(*args, **kwargs):
        _fold_models.clear()
        out = original(*args, **kwargs)
        _oof_calls.append(list(_fold_models))
        return out
    return wrapper


def _capture_calibrate(original):
    def wrapper(config, logits, y_val, w_val, classes, targets, parents, notes, groups=None, **kwargs):
        _calls.append({"logits": np.asarray(logits, dtype=np.float32), "y": np.asarray(y_val, dtype=object),
                       "w": np.asarray(w_val, dtype=np.float64), "classes": list(classes),
                       "groups": None if groups is None else np.asarray(groups)})
        return original(config, logits, y_val, w_val, classes, targets, parents, notes, groups=groups, **kwargs)
    return wrapper


def _capture_train(original):
    def wrapper(pool, labeled_rows, labels, **kwargs):
        _calls.clear()
        _oof_calls.clear()
        model = original(pool, labeled_rows, labels, **kwargs)
        folds = _oof_calls[-1] if _oof_calls else []
        order = np.argsort(pool.item_ids[np.asarray(labeled_rows)], kind="stable")
        _waves.append({"labeled_rows": np.asarray(labeled_rows)[order], "labels": np.asarray(labels, dtype=object)[order],
                       "calls": list(_calls), "classes": list(model.classes_), "temperature": model.temperature,
                       "pool_logits": model.logits(pool.embeddings).astype(np.float32),
                       "self_training": model.report.get("self_training"),
                       "hierarchy": model.report.get("choices", {}).get("structure"),
                       "fold_classes": [list(map(str, m.classes_)) for m in folds],
                       "fold_pool_logits": [m.decision_function(pool.embeddings).astype(np.float32) for m in folds],
                       "_folds": folds})
        return model
    return wrapper


def _capture_evaluate(original):
    def wrapper(model, X_test, y_test, label_names, label_index, rare_classes):
        _waves[-1]["test_logits"] = model.logits(X_test).astype(np.float32)
        folds = _waves[-1].pop("_folds")
        _waves[-1]["fold_test_logits"] = [m.decision_function(X_test).astype(np.float32) for m in folds]
        out = original(model, X_test, y_test, label_names, label_index, rare_classes)
        _waves[-1]["ece_product"] = out["ece"]
        _waves[-1]["macro_f1"] = out["macro_f1"]
        return out
    return wrapper


def _capture_plan(original):
    def wrapper(pool, off_limits, labeled_y, proba, config, *, seed):
        plan = original(pool, off_limits, labeled_y, proba, config, seed=seed)
        _picks.append([{"row": p.row, "pi": p.inclusion_prob, "strategy": p.strategy, "source": p.source}
                       for p in plan.picks])
        return plan
    return wrapper


fit_module.calibrate_and_evaluate = _capture_calibrate(fit_module.calibrate_and_evaluate)
sim_run.train_simulated_model = _capture_train(sim_run.train_simulated_model)
oof_module.fit_weighted = _capture_fit_weighted(oof_module.fit_weighted)
fit_module.out_of_fold = _capture_out_of_fold(fit_module.out_of_fold)
sim_run._evaluate = _capture_evaluate(sim_run._evaluate)
sim_run.plan_simulated_wave = _capture_plan(sim_run.plan_simulated_wave)


def capture(name: str, seed: int, train_options: dict) -> dict:
    _waves.clear()
    _picks.clear()
    data, embeddings, label_vectors = dev_set(name)
    config = sim.SimConfig(strategy="default", budget=1000, wave_size=100, seed=seed, train_options=train_options)
    result = sim.run_simulation(data, embeddings, config, label_vectors=label_vectors, progress=False,
                                estimate_truth=True, full_pool_macro_f1=0.0)
    pool_rows, test = sim_run.split_pool_test(data, seed, config.test_fraction)
    pool_rows = np.sort(pool_rows)
    return {"data": name, "seed": seed, "train_options": train_options,
            "label_names": sorted(set(data.labels.tolist())),
            "y_pool": data.labels[pool_rows], "y_test": data.labels[test],
            "waves": list(_waves), "picks": list(_picks),
            "result_waves": [{k: w.get(k) for k in ("wave", "labels", "ece", "ece_pool_mix", "macro_f1")}
                             for w in result["waves"]]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/calib_capture"))
    parser.add_argument("--train", type=json.loads, default={})
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        for seed in args.seeds:
            t = time.time()
            run = capture(name, seed, args.train)
            (args.out / f"{name}-seed{seed}.pkl").write_bytes(pickle.dumps(run))
            print(f"{name} seed {seed}: {time.time() - t:.0f}s", flush=True)


if __name__ == "__main__":
    main()
