"""Active-learning simulation: the product's planner (learner/planner.py) and learner
(learner/training.py) against an oracle that answers from a dataset's labels. No web server, no
database; the Django command ``manage.py simulate`` is a thin wrapper over :func:`run_simulation`.

Strategies
- ``default``: first wave a cold start (label-name neighbours, rules, diversity, random slice),
  later waves the tuned mix (:data:`SIM_DEFAULT_MIX`) plus the random slice;
- ``random``: every wave drawn uniformly at random (first wave too);
- ``margin``: random first wave, then smallest top-2 margin;
- ``band``: random first wave, then uniform picks inside the top-probability band 0.30-0.70.
The three baselines use a random first wave, as the reference numbers in the issue did.
"""
from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from learner.planner import DEFAULT_COLD_START_MIX, DEFAULT_MIX, PlannerConfig, PoolSnapshot, plan_wave
from learner.training import TrainConfig, first_nonfinite_row, train_classifier

STRATEGIES = ("default", "random", "margin", "band")
# The "default" strategy is the product's: Project.strategy_mix's default (later waves; the random
# slice comes on top: random_share) and the planner's cold-start mix.
SIM_DEFAULT_MIX = dict(DEFAULT_MIX)
SIM_COLD_START_MIX = dict(DEFAULT_COLD_START_MIX)
RESULT_KEYS = ("wave", "labels", "macro_f1", "micro_f1", "rare_recall", "classes_ge1", "classes_ge3",
               "rare_ge1", "rare_ge3", "ece", "seconds")


class DataError(ValueError):
    """Bad input file; the message names the file, line and field."""


@dataclass
class Dataset:
    path: str
    texts: list[str]
    labels: np.ndarray  # str per row
    coarse: np.ndarray | None  # str per row or None
    sources: np.ndarray  # str per row ("" without sources)
    is_test: np.ndarray  # bool per row


@dataclass
class SimConfig:
    strategy: str = "default"
    budget: int = 1000
    wave_size: int = 100
    seed: int = 0
    rare_threshold: int = 500
    random_share: float = 0.10
    label_cap_share: float = 0.25
    strategy_mix: dict = field(default_factory=lambda: dict(SIM_DEFAULT_MIX))
    cold_start_mix: dict = field(default_factory=lambda: dict(SIM_COLD_START_MIX))
    test_fraction: float = 0.2
    # > 0: hold out this stratified share of the pool (by seed) as a dev set, never selectable, and
    # evaluate on it instead of the test split (for tuning without looking at test).
    dev_fraction: float = 0.0
    train_options: dict = field(default_factory=dict)  # extra TrainConfig fields
    use_hierarchy: bool = True
    planner_options: dict = field(default_factory=dict)  # extra PlannerConfig fields for "default"


def humanise(label: str) -> str:
    """'card_arrival' -> 'card arrival'; 'negative:Customer Service Issue' -> 'negative customer
    service issue' (the cold start's only hint about a label)."""
    return re.sub(r"\s+", " ", re.sub(r"[_:/\-.]+", " ", str(label))).strip().lower()


def load_jsonl(path: str | Path) -> Dataset:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    texts, labels, coarse, sources, splits = [], [], [], [], []
    has_coarse = None
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {lineno}: expected a JSON object")
            for key in ("text", "label"):
                value = row.get(key)
                if not isinstance(value, str | int) or str(value).strip() == "":
                    raise DataError(f"{path}, line {lineno}, field '{key}': missing or empty")
            split = row.get("split", "train")
            if split not in ("train", "test", "pool", None):
                raise DataError(f"{path}, line {lineno}, field 'split': {split!r} is not 'train' or 'test'")
            row_has_coarse = row.get("coarse_label") not in (None, "")
            if has_coarse is None:
                has_coarse = row_has_coarse
            elif has_coarse != row_has_coarse:
                raise DataError(f"{path}, line {lineno}, field 'coarse_label': present on some rows only")
            texts.append(str(row["text"]))
            labels.append(str(row["label"]))
            coarse.append(str(row["coarse_label"]) if row_has_coarse else "")
            sources.append(str(row.get("source") or ""))
            splits.append(split == "test")
    if not texts:
        raise DataError(f"{path}: no rows")
    return Dataset(path=str(path), texts=texts, labels=np.array(labels, dtype=object),
                   coarse=np.array(coarse, dtype=object) if has_coarse else None,
                   sources=np.array(sources, dtype=object), is_test=np.array(splits, dtype=bool))


def split_pool_test(data: Dataset, seed: int, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the pool and of the test set. Without a ``test`` split, a stratified ``fraction``
    is held out by ``seed`` (labels with a single row stay in the pool)."""
    if data.is_test.any():
        return np.flatnonzero(~data.is_test), np.flatnonzero(data.is_test)
    return stratified_holdout(np.arange(len(data.labels)), data.labels, np.random.default_rng(seed), fraction)


def stratified_holdout(rows: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                       fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (with their ``labels``) into (kept, held out): round(fraction * n) rows of
    every label are held out; a label with a single row keeps it."""
    rows, labels = np.asarray(rows), np.asarray(labels)
    held = []
    for label in np.unique(labels):
        members = rows[labels == label]
        k = int(round(fraction * len(members))) if len(members) > 1 else 0
        held.extend(rng.choice(members, k, replace=False).tolist())
    is_held = np.isin(rows, np.array(held, dtype=rows.dtype))
    return rows[~is_held], rows[is_held]


def split_pool_dev(data: Dataset, pool: np.ndarray, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A stratified ``fraction`` of the pool held out as a dev set (by ``seed``; its own random
    stream, so the test split is unchanged). Dev rows are never selectable."""
    return stratified_holdout(pool, data.labels[pool], np.random.default_rng([seed, 7919]), fraction)


def check_embeddings(emb: np.ndarray, n_rows: int, where: str) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != n_rows:
        raise DataError(f"{where}: embeddings have shape {emb.shape}, expected ({n_rows}, d) row-aligned "
                        "with the data file")
    bad = first_nonfinite_row(emb)
    if bad is not None:
        raise DataError(f"{where}: row {bad} holds NaN or infinite values")
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norms, 1e-12)


def _planner_config(sim: SimConfig, first_wave: bool) -> PlannerConfig:
    base = dict(wave_size=sim.wave_size, rare_threshold=sim.rare_threshold, label_cap_share=sim.label_cap_share)
    if sim.strategy == "random" or (first_wave and sim.strategy != "default"):
        return PlannerConfig(strategy_mix={}, cold_start_mix={}, random_share=1.0, **base)
    if sim.strategy == "margin":
        return PlannerConfig(strategy_mix={"uncertainty": 1.0}, random_share=0.0, uncertainty="margin", **base)
    if sim.strategy == "band":
        return PlannerConfig(strategy_mix={"band": 1.0}, random_share=0.0, **base)
    if sim.strategy == "default":
        return PlannerConfig(**{**base, "strategy_mix": dict(sim.strategy_mix),
                                "cold_start_mix": dict(sim.cold_start_mix), "random_share": sim.random_share,
                                **sim.planner_options})
    raise ValueError(f"unknown strategy {sim.strategy!r}; choose one of {', '.join(STRATEGIES)}")


def _train(X, y, sim: SimConfig, parents: dict | None, seed: int, unlabeled=None):
    config = TrainConfig.from_dict({"seed": seed, **sim.train_options})
    return train_classifier(X, y, config=config, parents=parents, unlabeled=unlabeled)


def _full_proba(model, X, label_index: dict[str, int], k: int) -> np.ndarray:
    """Model probabilities as an (n, K) matrix over every label of the dataset (0 for labels the
    model has not seen yet)."""
    proba = model.predict_proba(X)
    full = np.zeros((len(X), k), dtype=np.float32)
    cols = [label_index[c] for c in model.classes_]
    full[:, cols] = proba
    return full


def _evaluate(model, X_test, y_test, label_names, label_index, rare_classes) -> dict:
    from learner.metrics import classification_report, expected_calibration_error

    k = len(label_names)
    proba = _full_proba(model, X_test, label_index, k)
    predicted = model.predict(X_test)
    # Without proba: per-class average precision is not needed here and costs a second per wave.
    report = classification_report(list(y_test), list(predicted), None, list(label_names))
    report["ece"] = expected_calibration_error(proba, np.array([label_index[v] for v in y_test]))
    recalls = [report["per_class"][c]["recall"] for c in rare_classes if report["per_class"][c]["support"] > 0]
    return {"macro_f1": report["macro_f1"], "micro_f1": report["micro_f1"],
            "rare_recall": float(np.mean(recalls)) if recalls else None, "ece": report.get("ece")}


def rarest_classes(pool_labels: np.ndarray, fraction: float = 0.2) -> list[str]:
    """The rarest ``fraction`` of classes by pool frequency (at least one; ties by name)."""
    names, counts = np.unique(pool_labels, return_counts=True)
    order = sorted(range(len(names)), key=lambda i: (counts[i], str(names[i])))
    n = max(1, int(round(fraction * len(names))))
    return [str(names[i]) for i in order[:n]]


def run_simulation(data: Dataset, embeddings: np.ndarray, sim: SimConfig, *,
                   label_vectors: np.ndarray | None = None, rules: list[tuple[str, re.Pattern]] | None = None,
                   full_pool_macro_f1: float | None = None, progress: bool = True) -> dict:
    """Run one strategy with one seed; return the result dict (see docs/simulation.md)."""
    from tqdm import tqdm

    if sim.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {sim.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if sim.wave_size <= 0 or sim.budget <= 0:
        raise ValueError("budget and wave size must be positive")
    embeddings = check_embeddings(embeddings, len(data.labels), data.path)
    pool, test = split_pool_test(data, sim.seed, sim.test_fraction)
    if len(test) == 0:
        raise DataError(f"{data.path}: no test rows to evaluate on")
    n_test, evaluated_on = len(test), "test"
    if sim.dev_fraction > 0:
        if not sim.dev_fraction < 1:
            raise ValueError("dev fraction must be in [0, 1)")
        # Tuning mode: evaluate on a dev part of the pool; the test rows are not read at all.
        pool, test = split_pool_dev(data, pool, sim.seed, sim.dev_fraction)
        evaluated_on = "dev"
        if len(test) == 0:
            raise DataError(f"{data.path}: the dev fraction {sim.dev_fraction} leaves no dev rows")
    label_names = sorted(set(data.labels.tolist()))
    label_index = {name: i for i, name in enumerate(label_names)}
    k = len(label_names)
    parents = None
    if data.coarse is not None and sim.use_hierarchy:
        parents = {str(f): str(c) for f, c in zip(data.labels, data.coarse, strict=True)}
    X_pool = embeddings[pool]
    y_pool = np.array([label_index[v] for v in data.labels[pool]], dtype=np.int64)
    X_test, y_test = embeddings[test], data.labels[test]
    pool_counts = np.bincount(y_pool, minlength=k)
    present = [label_names[i] for i in range(k) if pool_counts[i] > 0]
    rare_classes = rarest_classes(data.labels[pool])
    rare_idx = np.array([label_index[c] for c in rare_classes])

    rule_rows = None
    if rules:
        rule_rows = {}
        pool_texts = [data.texts[i] for i in pool]
        for label, pattern in rules:
            if label not in label_index:
                raise DataError(f"rule {pattern.pattern!r}: label {label!r} is not a label of {data.path}")
            hits = np.array([i for i, t in enumerate(pool_texts) if pattern.search(t)], dtype=np.int64)
            key = label_index[label]
            rule_rows[key] = np.union1d(rule_rows.get(key, np.zeros(0, np.int64)), hits).astype(np.int64)

    if full_pool_macro_f1 is None:
        model = _train(X_pool, data.labels[pool], sim, parents, sim.seed)
        full_pool_macro_f1 = _evaluate(model, X_test, y_test, label_names, label_index, rare_classes)["macro_f1"]

    labeled = np.zeros(len(pool), bool)
    labeled_y = np.full(len(pool), -1, dtype=np.int64)
    proba = None
    waves = []
    n_waves = int(np.ceil(sim.budget / sim.wave_size))
    bar = tqdm(total=n_waves, desc=f"{Path(data.path).stem} {sim.strategy} seed {sim.seed}", file=sys.stderr,
               disable=not progress, leave=False)
    for wave in range(1, n_waves + 1):
        t0 = time.perf_counter()
        size = min(sim.wave_size, sim.budget - int(labeled.sum()))
        config = _planner_config(sim, first_wave=proba is None)
        config.wave_size = size
        snapshot = PoolSnapshot(item_ids=pool, label_names=label_names, labeled=labeled,
                                sources=data.sources[pool], embeddings=X_pool, proba=proba,
                                labeled_y=labeled_y, label_vectors=label_vectors, rule_rows=rule_rows)
        plan = plan_wave(snapshot, config, seed=sim.seed * 1000 + wave)
        rows = np.array([p.row for p in plan.picks], dtype=np.int64)
        labeled[rows] = True
        labeled_y[rows] = y_pool[rows]  # the oracle answers
        counts = np.bincount(labeled_y[labeled], minlength=k)
        entry = {"wave": wave, "labels": int(labeled.sum())}
        if (counts > 0).sum() >= 2:
            names = np.array(label_names, dtype=object)[labeled_y[labeled]]
            # The unlabeled pool rows, as the product passes them (self-training); never dev or test.
            model = _train(X_pool[labeled], names, sim, parents, sim.seed, unlabeled=X_pool[~labeled])
            proba = _full_proba(model, X_pool, label_index, k)
            metrics = _evaluate(model, X_test, y_test, label_names, label_index, rare_classes)
            metrics["pseudo_labeled"] = (model.report.get("self_training") or {}).get("pseudo_rows", 0)
        else:
            metrics = {"macro_f1": 0.0, "micro_f1": 0.0, "rare_recall": 0.0, "ece": None, "pseudo_labeled": 0}
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
    return {
        "data": data.path, "strategy": sim.strategy, "seed": sim.seed, "pool": int(len(pool)),
        "test": int(n_test), "evaluated_on": evaluated_on,
        "dev": int(len(test)) if evaluated_on == "dev" else 0,
        "classes": int(len(present)), "full_pool_macro_f1": full_pool_macro_f1,
        "waves": waves,
        "config": {"budget": sim.budget, "wave_size": sim.wave_size, "rare_threshold": sim.rare_threshold,
                   "random_share": sim.random_share if sim.strategy == "default" else None,
                   "strategy_mix": sim.strategy_mix if sim.strategy == "default" else None,
                   "cold_start_mix": sim.cold_start_mix if sim.strategy == "default" else None,
                   "planner_options": sim.planner_options if sim.strategy == "default" else None,
                   "train_options": sim.train_options,
                   "hierarchy": parents is not None, "rare_classes": rare_classes},
    }


# --- summaries and the curve ---------------------------------------------------------------------
def summarise(result: dict) -> dict:
    """Numbers of the target table for one run."""
    waves = result["waves"]
    f1 = [w["macro_f1"] for w in waves]
    goal = 0.95 * result["full_pool_macro_f1"]
    reach = next((w["labels"] for w in waves if w["macro_f1"] >= goal), None)
    # Coverage "at 300": the last wave at or below 300 labels, if the run went that far.
    at300 = [w for w in waves if w["labels"] <= 300] if waves[-1]["labels"] >= 300 else []
    return {"mean_macro_f1": float(np.mean(f1)), "final_macro_f1": f1[-1],
            "labels_to_95pct": reach, "rare_ge1_at_300": at300[-1]["rare_ge1"] if at300 else None,
            "n_rare": len(result.get("config", {}).get("rare_classes", [])) or None}


def load_results(directory: Path) -> list[dict]:
    out = []
    for path in sorted(Path(directory).glob("*-seed*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a half-written file from a concurrent run; skipped in the overlay
    return out


def draw_curve(directory: Path, out: Path | None = None) -> Path:
    """Overlay every ``<strategy>-seed<k>.json`` in ``directory``: mean macro-F1 and rare-class
    coverage (share of the rarest 20 % of classes with a labeled example) against labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = load_results(directory)
    out = Path(out or Path(directory) / "curve.png")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    by_key: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        by_key.setdefault((Path(r["data"]).stem, r["strategy"]), []).append(r)
    for (data, strategy), runs in sorted(by_key.items()):
        n = min(len(r["waves"]) for r in runs)
        labels = [runs[0]["waves"][i]["labels"] for i in range(n)]
        f1 = [np.mean([r["waves"][i]["macro_f1"] for r in runs]) for i in range(n)]
        n_rare = max(1, len(runs[0].get("config", {}).get("rare_classes", [])) or 1)
        cov = [np.mean([r["waves"][i]["rare_ge1"] for r in runs]) / n_rare for i in range(n)]
        name = f"{strategy} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        if len({d for d, _ in by_key}) > 1:
            name = f"{data}: {name}"
        ax1.plot(labels, f1, marker="o", ms=3, label=name)
        ax2.plot(labels, cov, marker="o", ms=3, label=name)
    if results:
        full = np.mean([r["full_pool_macro_f1"] for r in results])
        ax1.axhline(full, color="grey", ls="--", lw=1, label="full pool")
        ax1.axhline(0.95 * full, color="grey", ls=":", lw=1, label="95 % of full pool")
    ax1.set_xlabel("labels")
    ax1.set_ylabel("test macro-F1")
    ax2.set_xlabel("labels")
    ax2.set_ylabel("rarest 20 % of classes with ≥1 label (share)")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    stems = sorted({Path(r["data"]).stem for r in results})
    fig.suptitle(", ".join(stems) or "no results")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def summary_rows(directory: Path) -> list[dict]:
    """Per (data, strategy): means over seeds of the target-table numbers. ``labels_to_95pct`` is
    read off the seed-mean curve against 95 % of the seed-mean full-pool macro-F1."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in load_results(directory):
        groups.setdefault((Path(r["data"]).stem, r["strategy"]), []).append(r)
    rows = []
    for (data, strategy), runs in sorted(groups.items()):
        n = min(len(r["waves"]) for r in runs)
        labels = [runs[0]["waves"][i]["labels"] for i in range(n)]
        curve = [float(np.mean([r["waves"][i]["macro_f1"] for r in runs])) for i in range(n)]
        full = float(np.mean([r["full_pool_macro_f1"] for r in runs]))
        reach = next((lab for lab, f in zip(labels, curve, strict=True) if f >= 0.95 * full), None)
        at300 = [i for i in range(n) if labels[i] <= 300] if labels[-1] >= 300 else []
        rare300 = (float(np.mean([r["waves"][at300[-1]]["rare_ge1"] for r in runs])) if at300 else None)
        rows.append({"data": data, "strategy": strategy, "seeds": sorted(r["seed"] for r in runs),
                     "full_pool": full, "mean_macro_f1": float(np.mean(curve)), "final_macro_f1": curve[-1],
                     "final_labels": labels[-1], "labels_to_95pct": reach, "rare_ge1_at_300": rare300,
                     "n_rare": len(runs[0].get("config", {}).get("rare_classes", [])),
                     "mean_seconds_per_wave": float(np.mean([w["seconds"] for r in runs for w in r["waves"]]))})
    return rows


def summary_markdown(directories: list[Path]) -> str:
    lines = ["| set | strategy | seeds | full pool | mean macro-F1 (curve) | macro-F1 at end | labels to 95 % "
             "| rarest-20 % classes with ≥1 label at 300 | s / wave |",
             "|---|---|---|---|---|---|---|---|---|"]
    for directory in directories:
        for row in summary_rows(Path(directory)):
            reach = row["labels_to_95pct"] if row["labels_to_95pct"] is not None else f"> {row['final_labels']}"
            rare = "–" if row["rare_ge1_at_300"] is None else f"{row['rare_ge1_at_300']:.1f} / {row['n_rare']}"
            lines.append(f"| {row['data']} | {row['strategy']} | {len(row['seeds'])} | {row['full_pool']:.3f} | "
                         f"{row['mean_macro_f1']:.3f} | {row['final_macro_f1']:.3f} ({row['final_labels']}) | "
                         f"{reach} | {rare} | {row['mean_seconds_per_wave']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m learner.simulation DIR [DIR ...]: the markdown target table
    print(summary_markdown([Path(p) for p in sys.argv[1:]]))
