"""Benchmark of the learner core over ../shared/datasets: every head × weighting (plus the long-tail
bucket) trained on the pool split with ``train_classifier`` and scored on the test split.

Uses the precomputed MiniLM vectors in bench/.cache/emb/<name>.npy (bench/embed_datasets.py); the
real Encoder's CPU throughput is measured separately on a sample of texts.

Run: nice .venv/bin/python bench/learner_bench.py [--datasets a,b] [--configs x,y] [--no-encode]
Writes bench/results/learner.json and docs/learner_bench.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
EMB = ROOT / "bench" / ".cache" / "emb"
RESULTS = ROOT / "bench" / "results" / "learner.json"
DOC = ROOT / "docs" / "learner_bench.md"
# Hand-written commentary on the latest run, appended to the generated page.
NOTES_FILE = ROOT / "bench" / "results" / "learner_notes.json"

from learner.calibration import softmax  # noqa: E402
from learner.metrics import classification_report, expected_calibration_error, rare_class_recall  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402

DATASET_NAMES = ["banking77_longtail", "trec", "airline_tweets", "sms_spam", "davidson_hate"]
CONFIGS = {
    "logreg/none": {"head": "logreg", "weighting": "none"},
    "logreg/inverse": {"head": "logreg", "weighting": "inverse"},
    "logreg/effective": {"head": "logreg", "weighting": "effective", "beta": 0.999},
    "torch-ce/none": {"head": "torch", "loss": "ce", "weighting": "none"},
    "torch-ce/inverse": {"head": "torch", "loss": "ce", "weighting": "inverse"},
    "torch-ce/effective": {"head": "torch", "loss": "ce", "weighting": "effective", "beta": 0.999},
    "torch-focal/inverse": {"head": "torch", "loss": "focal", "weighting": "inverse", "gamma": 2.0},
    "torch-logit-adjusted/none": {"head": "torch", "loss": "logit_adjusted", "weighting": "none", "tau": 1.0},
    "logreg/inverse+other<10": {"head": "logreg", "weighting": "inverse", "other_min_examples": 10},
}
HIERARCHY_CONFIGS = ["logreg/inverse", "torch-ce/inverse"]
PRECISION_TARGET = 0.9
REFERENCE = {"banking77_longtail": 0.858, "trec": 0.703}


def load(name: str) -> dict:
    rows = [json.loads(line) for line in (DATASETS / f"{name}.jsonl").open(encoding="utf-8")]
    path = EMB / f"{name}.npy"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run bench/embed_datasets.py {name}")
    X = np.load(path)
    if len(X) != len(rows):
        raise ValueError(f"{path} has {len(X)} rows but {name}.jsonl has {len(rows)} lines")
    split = np.array([r["split"] for r in rows])
    y = np.array([r["label"] for r in rows])
    coarse = np.array([r.get("coarse_label") or "" for r in rows])
    pool, test = split == "train", split == "test"
    parents = None
    if coarse.all():
        parents = {}
        for f, c in zip(y, coarse, strict=True):
            if parents.setdefault(f, c) != c:
                raise ValueError(f"{name}: label {f!r} has two coarse labels")
    return {"name": name, "X_pool": X[pool], "y_pool": y[pool], "X_test": X[test], "y_test": y[test],
            "parents": parents, "texts": [r["text"] for r in rows]}


def evaluate_flat(data: dict, options: dict, seed: int) -> dict:
    y_pool, y_test = data["y_pool"], data["y_test"]
    labels = sorted(set(y_pool))
    targets = {label: {"precision": PRECISION_TARGET} for label in labels}
    started, cpu_started = time.perf_counter(), time.process_time()
    model = train_classifier(data["X_pool"], y_pool, config=TrainConfig(seed=seed, **options), targets=targets)
    train_s, train_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    classes = model.classes_
    index = {c: i for i, c in enumerate(classes)}
    proba = model.predict_proba(data["X_test"])
    raw = softmax(model.logits(data["X_test"]))
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    known = np.array([v in index for v in y_test])
    y_idx = np.array([index.get(v, -1) for v in y_test])
    report = classification_report(y_test, predicted, proba=None, classes=sorted(set(classes) | set(y_test)))
    pool_counts = dict(zip(*np.unique(y_pool, return_counts=True), strict=True))
    pool_counts = {str(k): int(v) for k, v in pool_counts.items()}
    decisions = model.decide(data["X_test"], proba=proba)
    review = np.array([d["needs_review"] for d in decisions])
    auto = ~review
    out = {
        "macro_f1": report["macro_f1"],
        "micro_f1": report["micro_f1"],
        "rare20_recall": rare_class_recall(report, pool_counts, 0.2),
        "ece_before": expected_calibration_error(raw[known], y_idx[known]),
        "ece_after": expected_calibration_error(proba[known], y_idx[known]),
        "temperature": model.temperature,
        "review_share": float(review.mean()),
        "auto_precision": float(np.mean(np.array(predicted)[auto] == y_test[auto])) if auto.any() else None,
        "thresholds_met_on_val": int(sum(r["met"] for r in model.report["thresholds"] if r["estimable"])),
        "thresholds_estimable": int(sum(r["estimable"] for r in model.report["thresholds"])),
        "val_macro_f1": model.report["validation"]["macro_f1"] if "validation" in model.report else None,
        "val_ece_before": model.report["calibration"]["ece_before"],
        "val_ece_after": model.report["calibration"]["ece_after"],
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "timings": model.report["timings"],
        "n_pool": int(len(y_pool)),
        "n_test": int(len(y_test)),
    }
    if data["parents"]:
        parents = data["parents"]
        out["cross_coarse_error_flat"] = float(np.mean([parents[p] != parents[t]
                                                        for p, t in zip(predicted, y_test, strict=True)]))
    return out


def evaluate_hierarchy(data: dict, options: dict, seed: int, floor: float = 0.75,
                       hierarchy: str = "coarse_then_fine") -> dict:
    parents = data["parents"]
    y_test = data["y_test"]
    started = time.perf_counter()
    config = TrainConfig(seed=seed, fine_floor=floor, hierarchy=hierarchy, **options)
    model = train_classifier(data["X_pool"], data["y_pool"], config=config, parents=parents)
    train_s = time.perf_counter() - started
    decisions = model.decide(data["X_test"])
    true_coarse = np.array([parents[v] for v in y_test])
    fallback = np.array([d["fallback"] for d in decisions])
    coarse_pred = np.array([d["coarse_label"] for d in decisions])
    fine_pred = np.array([d["fine_label"] for d in decisions])
    wrong_branch = coarse_pred != true_coarse
    fine_report = classification_report(y_test, fine_pred, classes=sorted(set(model.classes_) | set(y_test)))
    emitted_fine = ~fallback
    return {
        "hierarchy": hierarchy,
        "fine_floor": floor,
        "macro_f1_hier": fine_report["macro_f1"],
        "coarse_accuracy": float(np.mean(~wrong_branch)),
        # every row emits a fine label: a wrong branch is a "bizarre" error
        "cross_coarse_error_no_fallback": float(np.mean(wrong_branch)),
        # rows under the floor emit only the coarse label; bizarre = a fine label emitted in the wrong branch
        "cross_coarse_error_with_fallback": float(np.mean(wrong_branch & emitted_fine)),
        "fallback_share": float(fallback.mean()),
        "fine_accuracy_when_emitted": float(np.mean(fine_pred[emitted_fine] == y_test[emitted_fine]))
        if emitted_fine.any() else None,
        "train_s": train_s,
    }


def reference(data: dict) -> dict:
    """The issue's reference point: sklearn LogisticRegression(class_weight='balanced', C=10) on
    the whole pool, no split, no calibration."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    with threadpool_limits(1):
        model = LogisticRegression(C=10, class_weight="balanced", max_iter=1000).fit(data["X_pool"], data["y_pool"])
    train_s = time.perf_counter() - started
    predicted = model.predict(data["X_test"])
    report = classification_report(data["y_test"], predicted, classes=sorted(set(data["y_pool"]) | set(data["y_test"])))
    return {"macro_f1": report["macro_f1"], "micro_f1": report["micro_f1"], "train_s": train_s}


def encode_throughput(texts: list[str], n: int = 2000, batch_size: int = 64, threads: int | None = None) -> dict:
    import torch

    from learner.embedding import Encoder

    if threads:
        torch.set_num_threads(threads)
    sample = texts[:n]
    encoder = Encoder(model_id="all-MiniLM-L6-v2", device="cpu", batch_size=batch_size)
    started = time.perf_counter()
    encoder.encode(sample[:8])
    load_s = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    vectors = encoder.encode(sample)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return {"texts": len(sample), "seconds": seconds, "cpu_s": cpu_s, "texts_per_s": len(sample) / seconds,
            "load_s": load_s, "device": "cpu", "torch_threads": torch.get_num_threads(), "batch_size": batch_size,
            "dim": int(vectors.shape[1]), "load_average_1m": os.getloadavg()[0]}


def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def write_markdown(result: dict) -> None:
    lines = [
        "# Learner benchmark",
        "",
        f"Generated by `bench/learner_bench.py` on {result['when']} ({result['machine']}); raw numbers in "
        "`bench/results/learner.json`. Frozen all-MiniLM-L6-v2 embeddings (precomputed), heads trained with "
        "`train_classifier` on each dataset's pool split (80 % train / 20 % validation inside, then refit on the "
        "whole pool keeping the validation-fitted temperature and thresholds) and scored on the test split. "
        f"One seed ({result['seed']}). Thresholds: every label targets precision ≥ {PRECISION_TARGET} on "
        "validation (*targets met* counts the labels where that was reachable; the others send all their "
        "predictions to review); *review* = share of test rows below their label's threshold, *auto P* = "
        "accuracy of the rest. ECE (15 bins) on test before → after temperature scaling. *rare-20 % R* = mean recall of the "
        "rarest 20 % of classes by pool count. *train s* = wall time of the whole `train_classifier` call "
        "(split, fit, calibration, thresholds, refit) on a 2-core machine shared with other jobs (load 5-10 "
        "during the run, so wall times are inflated), 1 BLAS / torch thread; *CPU s* = process CPU time of "
        "the same call.",
        "",
    ]
    for name, ds in result["datasets"].items():
        ref = ds["reference"]
        lines += [f"## {name}", "",
                  f"pool {ds['n_pool']}, test {ds['n_test']}, {ds['n_classes']} classes. Reference "
                  f"(LogisticRegression balanced, C=10, whole pool, measured here): macro-F1 {fmt(ref['macro_f1'])}"
                  + (f" (issue: {REFERENCE[name]})" if name in REFERENCE else "") + ".", "",
                  "| config | macro-F1 | micro-F1 | rare-20 % R | ECE before → after | T | targets met (val) | review | "
                  "auto P | cross-coarse err (flat) | train s (CPU s) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        best = max(ds["configs"].items(), key=lambda kv: kv[1]["macro_f1"])[0]
        for cfg, r in ds["configs"].items():
            mark = " **(best)**" if cfg == best else ""
            lines.append(
                f"| {cfg}{mark} | {fmt(r['macro_f1'])} | {fmt(r['micro_f1'])} | {fmt(r['rare20_recall'])} | "
                f"{fmt(r['ece_before'])} → {fmt(r['ece_after'])} | {fmt(r['temperature'], 2)} | "
                f"{r['thresholds_met_on_val']}/{r['thresholds_estimable']} | {fmt(r['review_share'])} | {fmt(r['auto_precision'])} | {fmt(r.get('cross_coarse_error_flat'))} | "
                f"{fmt(r['train_s'], 1)} ({fmt(r.get('train_cpu_s'), 1)}) |")
        if ds.get("hierarchy"):
            lines += ["", "Hierarchy. *[coarse_then_fine]*: a coarse head, then a fine head within the predicted "
                      "branch (the coarse head weighted by the coarse labels' class weights); *[…, fine-weighted coarse]*: the same, but each row of the coarse head keeps its fine label's class weight (`coarse_weights='fine'`); *[flat]*: the flat fine head, coarse = sum of its children. Both decode the best "
                      "branch first, then the best fine label in it, and fall back to the coarse label alone when "
                      "P(fine | coarse) < floor. *bizarre* = share of test rows whose emitted fine label lies in "
                      "the wrong coarse branch: for the flat model's plain argmax, for the decoded model without "
                      "the fallback (every row emits a fine label), and with it (fallback rows emit none).", "",
                      "| config | floor | macro-F1 (fine, decoded) | coarse acc | bizarre, flat argmax | bizarre, "
                      "decoded, no fallback | bizarre, with fallback | fallback share | fine acc when emitted | train s |",
                      "|---|---|---|---|---|---|---|---|---|---|"]
            for cfg, h in ds["hierarchy"].items():
                flat = ds["configs"].get(cfg.split(" [")[0], {}).get("cross_coarse_error_flat")
                lines.append(
                    f"| {cfg} | {h['fine_floor']} | {fmt(h['macro_f1_hier'])} | {fmt(h['coarse_accuracy'])} | "
                    f"{fmt(flat)} | {fmt(h['cross_coarse_error_no_fallback'])} | "
                    f"{fmt(h['cross_coarse_error_with_fallback'])} | {fmt(h['fallback_share'])} | "
                    f"{fmt(h['fine_accuracy_when_emitted'])} | {fmt(h['train_s'], 1)} |")
        lines.append("")
    encodes = result.get("encode") or []
    if isinstance(encodes, dict):
        encodes = [encodes]
    if encodes:
        lines += ["## Encoder throughput", "",
                  "Real `Encoder` (bundled all-MiniLM-L6-v2, torch CPU, batch 64) on the first 2,000 banking77 texts, "
                  "on the shared 2-core machine (the 1-minute load average at the time is given: other jobs "
                  "were running, so these are lower bounds).", "",
                  "| torch threads | texts | seconds | texts/s | CPU s | model load s | load average |",
                  "|---|---|---|---|---|---|---|"]
        for e in encodes:
            lines.append(f"| {e['torch_threads']} | {e['texts']} | {e['seconds']:.1f} | **{e['texts_per_s']:.0f}** | "
                         f"{fmt(e.get('cpu_s'), 1)} | {e['load_s']:.1f} | {fmt(e.get('load_average_1m'), 1)} |")
        lines.append("")
    seed_files = sorted(RESULTS.parent.glob("learner_seed*.json"))
    if seed_files:
        lines += ["## Other seeds", "",
                  "The same runs with other seeds (`--seed N --out bench/results/learner_seedN.json`): the seed "
                  "moves the train / validation split inside `train_classifier` and the torch initialisation; "
                  "the pool / test split is the dataset's. Macro-F1 (ECE after calibration, review share).", "",
                  "| dataset | config | " + " | ".join(["seed " + str(result["seed"])] + [
                      "seed " + str(json.loads(f.read_text())["seed"]) for f in seed_files]) + " |",
                  "|---|---|" + "---|" * (1 + len(seed_files))]
        others = [json.loads(f.read_text()) for f in seed_files]
        for name, ds in result["datasets"].items():
            for cfg, r in ds["configs"].items():
                cells = []
                for run in others:
                    o = run["datasets"].get(name, {}).get("configs", {}).get(cfg)
                    cells.append(f"{fmt(o['macro_f1'])} ({fmt(o['ece_after'])}, {fmt(o['review_share'], 2)})"
                                 if o else None)
                if any(cells):
                    lines.append(f"| {name} | {cfg} | {fmt(r['macro_f1'])} ({fmt(r['ece_after'])}, "
                                 f"{fmt(r['review_share'], 2)}) | " + " | ".join(c or "–" for c in cells) + " |")
        lines.append("")
    notes = json.loads(NOTES_FILE.read_text(encoding="utf-8"))["notes"] if NOTES_FILE.exists() else []
    if notes:
        lines += ["## Reading the numbers", ""] + [f"- {n}" for n in notes] + [""]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASET_NAMES))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-encode", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--render-only", action="store_true", help="rewrite docs/learner_bench.md from the JSON")
    args = parser.parse_args(argv)
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.exists() else {"datasets": {}}
    if args.render_only:
        write_markdown(result)
        return result
    result.update({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seed": args.seed,
                   "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "precision_target": PRECISION_TARGET})
    configs = [c for c in args.configs.split(",") if c]
    for name in [d for d in args.datasets.split(",") if d]:
        data = load(name)
        ds = result["datasets"].setdefault(name, {"configs": {}, "hierarchy": {}})
        ds.update({"n_pool": int(len(data["y_pool"])), "n_test": int(len(data["y_test"])),
                   "n_classes": int(len(set(data["y_pool"]))), "reference": reference(data)})
        print(f"{name}: reference macro-F1 {ds['reference']['macro_f1']:.3f}", flush=True)
        for cfg in configs:
            r = evaluate_flat(data, CONFIGS[cfg], args.seed)
            ds["configs"][cfg] = r
            print(f"  {cfg:28s} macro-F1 {r['macro_f1']:.3f} rare {fmt(r['rare20_recall'])} "
                  f"ECE {r['ece_before']:.3f}->{r['ece_after']:.3f} review {r['review_share']:.3f} "
                  f"{r['train_s']:.1f}s", flush=True)
            if data["parents"] and cfg in HIERARCHY_CONFIGS:
                for hierarchy, extra in (("coarse_then_fine", {}), ("coarse_then_fine", {"coarse_weights": "fine"}),
                                         ("flat", {})):
                    h = evaluate_hierarchy(data, {**CONFIGS[cfg], **extra}, args.seed, hierarchy=hierarchy)
                    variant = hierarchy + (", fine-weighted coarse" if extra else "")
                    h["variant"] = variant
                    ds["hierarchy"][f"{cfg} [{variant}]"] = h
                    print(f"  {cfg:28s} {variant} macro-F1 {h['macro_f1_hier']:.3f} bizarre "
                          f"{r['cross_coarse_error_flat']:.3f} (flat argmax) {h['cross_coarse_error_no_fallback']:.3f} "
                          f"(decoded) {h['cross_coarse_error_with_fallback']:.3f} (with fallback, "
                          f"{h['fallback_share']:.3f} fall back)", flush=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1))
    if not args.no_encode:
        texts = [json.loads(line)["text"] for line in (DATASETS / "banking77.jsonl").open(encoding="utf-8")]
        result["encode"] = [encode_throughput(texts, threads=t) for t in (1, os.cpu_count())]
        for e in result["encode"]:
            print(f"encode: {e['texts_per_s']:.0f} texts/s with {e['torch_threads']} threads", flush=True)
    out_path.write_text(json.dumps(result, indent=1))
    if out_path.resolve() == RESULTS.resolve():
        write_markdown(result)
    return result


if __name__ == "__main__":
    main()
