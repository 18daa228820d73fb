"""How far effective-number class weights (Cui et al., normalised so the class weights sum to K)
differ from inverse frequency (rows summing to N) on the label counts a simulated run actually
had: per set, seed and wave, the total row weight as a share of N and the largest relative
difference in shape (each weighting rescaled to sum to N over the rows).

Reads the labeled rows of ``simulate`` runs (``labeled_rows``, ``labeled_wave``) and the
datasets' labels; counts only labeled rows (a retrain's pseudo-labeled rows add to ``n_c`` and
flatten the effective weights of large labels further).

    python bench/weight_totals.py --runs bench/results/sim_code_seeds_round16/now --seeds 0 1 2 \\
        --waves 1 3 5 10 --out bench/results/weight_totals_round16.json
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.weighting import class_weights  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"


def labels_of(data_set: str) -> list[str]:
    with open(DATASETS / f"{data_set}.jsonl") as lines:
        return [json.loads(line)["label"] for line in lines]


def totals(counts: np.ndarray, beta: float) -> dict:
    effective = class_weights(counts, "effective", beta)
    inverse = class_weights(counts, "inverse")
    share = float((effective * counts).sum() / counts.sum())
    shape = float(np.max(np.abs(effective / share / inverse - 1)))
    return {"labels": int(len(counts)), "rows": int(counts.sum()), "total_share_of_n": round(share, 3),
            "largest_shape_difference": round(shape, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="a code's folder of <set>/default-seed<K>.json")
    parser.add_argument("--sets", nargs="+", default=["banking77_longtail", "trec", "airline_tweets"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--waves", nargs="+", type=int, default=[1, 3, 5, 10])
    parser.add_argument("--beta", type=float, default=0.999)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = {"command": "python bench/weight_totals.py " + " ".join(sys.argv[1:]), "beta": args.beta,
           "what": "labeled rows only; total_share_of_n = effective weights' row total / N (inverse: 1); "
                   "largest_shape_difference = max over labels of |effective / inverse - 1| at equal totals",
           "sets": {}}
    for data_set in args.sets:
        labels = labels_of(data_set)
        rows = []
        for seed in args.seeds:
            run = json.loads((args.runs / data_set / f"default-seed{seed}.json").read_text())
            labeled, wave_of = np.asarray(run["labeled_rows"]), np.asarray(run["labeled_wave"])
            for wave in args.waves:
                counts = np.array(list(Counter(labels[i] for i in labeled[wave_of <= wave]).values()), dtype=float)
                rows.append({"seed": seed, "wave": wave, **totals(counts, args.beta)})
        shares = [r["total_share_of_n"] for r in rows]
        out["sets"][data_set] = {"total_share_of_n_range": [min(shares), max(shares)],
                                 "largest_shape_difference_max": max(r["largest_shape_difference"] for r in rows),
                                 "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for data_set, entry in out["sets"].items():
        print(data_set, entry["total_share_of_n_range"], entry["largest_shape_difference_max"])


if __name__ == "__main__":
    main()
