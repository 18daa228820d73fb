"""Tune the default strategy without looking at banking77_longtail's test split.

`simulate --dev-fraction` holds out a share of the pool, but on banking77_longtail that dev set is
about 650 rows over 77 labels, too small to resolve differences of a few thousandths. This script
builds *sibling* tuning sets instead, from banking77's published **train** split only (the test
split is never read):

- a balanced dev set of ``--dev-per-class`` rows per label (like the real test split, so macro-F1
  weighs every label equally);
- a long-tailed pool from the rest, shaped like banking77_longtail's pool
  (``n_c = n_max · 50^(-rank/(K-1))``, at least 2 per label, ``n_max`` = 178), with the ranks drawn
  by the sibling's seed, so which labels are rare changes from sibling to sibling (a variant cannot
  win by suiting the particular labels that are rare in banking77_longtail). A label with fewer
  rows than its rank asks for keeps what it has.

Each variant runs the simulation (``learner.simulation.run_simulation``: the product's planner and
learner) on every sibling with the sibling's seed, and the paired differences against the first
variant are reported. Run:

    OMP_NUM_THREADS=1 python bench/sim_siblings.py --siblings 12 \
        --variant product '{}' --variant cap05 '{"label_cap_share": 0.05}'

A variant is a JSON object of ``SimConfig`` fields (``strategy``, ``strategy_mix``,
``planner_options``, ``train_options``, ...). Results: ``bench/results/sim/siblings.json``.
``--resummarise --out FILE`` recomputes the summary of the runs already in FILE (no new runs).
"""
from __future__ import annotations

import argparse
import functools
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
DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache" / "emb"
OUT = ROOT / "bench" / "results" / "sim" / "siblings.json"
N_MAX, TAIL, MIN_PER_LABEL = 178, 50.0, 2


@functools.cache
def load_train(path: Path):
    """banking77's train rows only (texts, labels, their row numbers in the file)."""
    texts, labels, rows = [], [], []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            row = json.loads(line)
            if row.get("split") == "test":
                continue  # never read: the test split is banking77_longtail's test split
            texts.append(row["text"])
            labels.append(row["label"])
            rows.append(i)
    return texts, np.array(labels, dtype=object), np.array(rows)


def make_sibling(labels: np.ndarray, sibling: int, dev_per_class: int):
    """(pool indices, dev indices) into the train rows for one sibling."""
    rng = np.random.default_rng([sibling, 2024])
    names = sorted(set(labels.tolist()))
    k = len(names)
    ranks = rng.permutation(k)
    pool, dev = [], []
    for name, rank in zip(names, ranks, strict=True):
        members = rng.permutation(np.flatnonzero(labels == name))
        dev.extend(members[:dev_per_class].tolist())
        rest = members[dev_per_class:]
        want = max(MIN_PER_LABEL, int(round(N_MAX * TAIL ** (-rank / (k - 1)))))
        pool.extend(rest[:want].tolist())
    return np.array(sorted(pool)), np.array(sorted(dev))


def sibling_dataset(sibling: int, dev_per_class: int):
    """(Dataset, embeddings) of one sibling: its pool rows, then its dev rows as the "test" split."""
    from learner.simulation import Dataset

    texts, labels, file_rows = load_train(DATASETS / "banking77.jsonl")
    emb_all = np.load(CACHE / "banking77.npy", mmap_mode="r")
    pool, dev = make_sibling(labels, sibling, dev_per_class)
    rows = np.concatenate([pool, dev])
    data = Dataset(path=f"banking77-sibling{sibling}", texts=[texts[i] for i in rows], labels=labels[rows],
                   coarse=None, sources=np.array([""] * len(rows), dtype=object),
                   is_test=np.r_[np.zeros(len(pool), bool), np.ones(len(dev), bool)])
    return data, np.asarray(emb_all[file_rows[rows]], dtype=np.float32)


def run_one(args):
    sibling, name, variant, dev_per_class = args
    from learner.simulation import SimConfig, run_simulation

    data, emb = sibling_dataset(sibling, dev_per_class)
    label_vectors = np.load(CACHE / "banking77.labels.npy")
    sim = SimConfig(seed=sibling, **variant)
    t0 = time.time()
    result = run_simulation(data, emb, sim, label_vectors=label_vectors, progress=False)
    result["variant"] = name
    result["sibling"] = sibling
    result["wall_s"] = round(time.time() - t0, 1)
    return result


def label_vectors_file() -> Path:
    """Humanised label names through the bundled encoder, as ``simulate`` makes them."""
    out = CACHE / "banking77.labels.npy"
    if out.exists():
        return out
    from learner.embedding import get_encoder
    from learner.simulation import humanise

    _, labels, _ = load_train(DATASETS / "banking77.jsonl")
    names = sorted(set(labels.tolist()))
    np.save(out, get_encoder().encode([humanise(n) for n in names]))
    return out


def standard_error(d: np.ndarray) -> float:
    return float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def ece_tally(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"waves": len(values), "at_most_0.03": int(sum(v <= 0.03 for v in values)),
            "median": round(float(np.median(values)), 4)}


def summarise(results: list[dict], names: list[str]) -> dict:
    by = {(r["variant"], r["sibling"]): r for r in results}
    siblings = sorted({r["sibling"] for r in results})
    base = names[0]
    table = {}
    for name in names:
        curves, rel, reach = [], [], []
        for s in siblings:
            r = by[(name, s)]
            f1 = np.array([w["macro_f1"] for w in r["waves"]])
            curves.append(f1)
            rel.append(f1 / r["full_pool_macro_f1"])
            goal = 0.95 * r["full_pool_macro_f1"]
            reach.append(next((w["labels"] for w in r["waves"] if w["macro_f1"] >= goal), 1100))
        curves, rel = np.array(curves), np.array(rel)
        base_curves = np.array([[w["macro_f1"] for w in by[(base, s)]["waves"]] for s in siblings])
        diff_mean = curves.mean(axis=1) - base_curves.mean(axis=1)
        diff_600_800 = curves[:, 5:8].mean(axis=1) - base_curves[:, 5:8].mean(axis=1)
        diff_400_600 = curves[:, 3:6].mean(axis=1) - base_curves[:, 3:6].mean(axis=1)
        diff_points = curves - base_curves
        table[name] = {
            "siblings": len(siblings),
            "mean_macro_f1": float(curves.mean()),
            "curve": [round(float(v), 4) for v in curves.mean(axis=0)],
            "share_of_full_pool": [round(float(v), 4) for v in rel.mean(axis=0)],
            "share_at_700": float(rel[:, 6].mean()),
            "siblings_at_95pct_by_700": int((rel[:, 6] >= 0.95).sum()),
            "labels_to_95pct_mean": float(np.mean(reach)),
            "diff_mean_vs_base": [float(diff_mean.mean()), standard_error(diff_mean)],
            "diff_600_800_vs_base": [float(diff_600_800.mean()), standard_error(diff_600_800)],
            "diff_400_600_vs_base": [float(diff_400_600.mean()), standard_error(diff_400_600)],
            # Paired difference at each point of the curve (100 ... 1,000 labels): [mean, SE].
            "diff_curve_vs_base": [[round(float(d.mean()), 4), round(standard_error(d), 4)]
                                   for d in diff_points.T],
            # Dev-set top-label ECE (15 bins) over every wave of every sibling: waves at most 0.03, median.
            "ece_waves_at_most_0.03": ece_tally([w.get("ece") for s in siblings for w in by[(name, s)]["waves"]]),
            # None for trimmed runs (saved without the per-wave rare counts).
            "rare_ge1_at_300": (float(np.mean([by[(name, s)]["waves"][2]["rare_ge1"] for s in siblings]))
                                if all("rare_ge1" in by[(name, s)]["waves"][2] for s in siblings) else None),
        }
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--siblings", type=int, default=12)
    parser.add_argument("--first-sibling", type=int, default=100)
    parser.add_argument("--dev-per-class", type=int, default=20)
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--resummarise", action="store_true",
                        help="recompute the summary of the runs already in --out (no new runs)")
    parser.add_argument("--trim", action="store_true",
                        help="with --resummarise: drop each wave's per-label estimates (most of the file's size)")
    args = parser.parse_args()
    if args.resummarise:
        out = Path(args.out)
        saved = json.loads(out.read_text())
        saved["summary"] = summarise(saved["runs"], list(saved["variants"]))
        saved["summary_command"] = " ".join(sys.argv)
        if args.trim:
            for run in saved["runs"]:
                for wave in run["waves"]:
                    wave.pop("estimates", None)
            saved["trimmed"] = "each wave's per-label estimates dropped for size (bench/sim_siblings.py --trim)"
        out.write_text(json.dumps(saved, indent=1))
        print_table(saved["summary"])
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from embed_datasets import dataset_vectors

    dataset_vectors(DATASETS / "banking77.jsonl")
    label_vectors_file()
    if not args.variant:
        parser.error("at least one --variant is required")
    variants = [(name, json.loads(spec)) for name, spec in args.variant]
    jobs = [(s, name, spec, args.dev_per_class)
            for s in range(args.first_sibling, args.first_sibling + args.siblings) for name, spec in variants]
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for result in pool.map(run_one, jobs):
            results.append(result)
            print(f"sibling {result['sibling']} {result['variant']}: full {result['full_pool_macro_f1']:.3f} "
                  f"curve {' '.join(format(w['macro_f1'], '.3f') for w in result['waves'])} ({result['wall_s']}s)",
                  flush=True)
    table = summarise(results, [name for name, _ in variants])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(sys.argv), "variants": dict(variants), "summary": table,
                               "runs": [{k: r[k] for k in ("variant", "sibling", "pool", "test",
                                                           "full_pool_macro_f1", "waves")} for r in results]},
                              indent=1))
    print_table(table)


def print_table(table: dict):
    for name, row in table.items():
        print(f"{name:>24}: mean {row['mean_macro_f1']:.4f}  at700/full {row['share_at_700']:.4f} "
              f"({row['siblings_at_95pct_by_700']}/{row['siblings']} reach 95%)  reach {row['labels_to_95pct_mean']:.0f}"
              f"  diff {row['diff_mean_vs_base'][0]:+.4f}±{row['diff_mean_vs_base'][1]:.4f}"
              f"  diff600-800 {row['diff_600_800_vs_base'][0]:+.4f}±{row['diff_600_800_vs_base'][1]:.4f}"
              f"  diff400-600 {row['diff_400_600_vs_base'][0]:+.4f}±{row['diff_400_600_vs_base'][1]:.4f}"
              f"  rare300 {row['rare_ge1_at_300']}")


if __name__ == "__main__":
    main()
