"""Label efficiency on the test split: the default strategy's curve per run directory, against the
targets of issue 12 (banking77_longtail: 95 % of its full-pool macro-F1 by 500 labels; mean
macro-F1 over 100–1,000 labels above 0.767). Reads ``default-seed*.json`` written by
``manage.py simulate`` into each directory and writes ``bench/results/label_efficiency.json``, or
the file given by ``--out`` (so a new comparison does not replace an earlier one).

    python bench/label_efficiency.py [--out FILE] NAME=DIR [NAME=DIR ...]

e.g. ``before=bench/results/sim/banking77_longtail now=bench/results/sim_final/banking77_longtail``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "label_efficiency.json"


def summarise_dir(directory: Path) -> dict:
    runs = [json.loads(f.read_text()) for f in sorted(directory.glob("default-seed*.json"))]
    if not runs:
        return {"note": "no runs"}
    labels = [w["labels"] for w in runs[0]["waves"]]
    curves = np.array([[w["macro_f1"] for w in r["waves"]] for r in runs])
    full = float(np.mean([r["full_pool_macro_f1"] for r in runs]))
    mean_curve = curves.mean(axis=0)
    reach = next((n for n, f in zip(labels, mean_curve, strict=True) if f >= 0.95 * full), None)
    # Waves whose model trained on label-name prior rows, counted over the seeds (runs before the
    # field existed have none).
    prior_used = ([sum(1 for r in runs if r["waves"][i].get("label_prior_rows", 0) > 0) for i in range(len(labels))]
                  if all("label_prior_rows" in w for r in runs for w in r["waves"]) else None)
    return {
        "seeds": [r["seed"] for r in runs],
        "train_options": runs[0]["config"].get("train_options"),
        "full_pool": round(full, 4),
        "mean_macro_f1_100_1000": round(float(curves.mean()), 4),
        "mean_per_seed": [round(float(c.mean()), 4) for c in curves],
        "seed_mean_curve": [round(float(v), 4) for v in mean_curve],
        "labels_to_95pct_of_full_pool": reach,
        "at_500": round(float(mean_curve[labels.index(500)]), 4) if 500 in labels else None,
        "goal_95pct": round(0.95 * full, 4),
        "seeds_using_label_prior_per_wave": prior_used,
    }


def main():
    args, out_path = sys.argv[1:], OUT
    if args[:1] == ["--out"] and len(args) >= 2:
        out_path, args = Path(args[1]), args[2:]
    pairs = [arg.split("=", 1) for arg in args]
    if not pairs or any(len(p) != 2 for p in pairs):
        raise SystemExit(__doc__)
    out = {"note": "test split; default strategy, budget 1000 in waves of 100; machine: 2 cores shared with other "
                   "sessions (loaded)",
           "runs": {name: {"dir": directory, **summarise_dir(ROOT / directory)} for name, directory in pairs}}
    out_path.write_text(json.dumps(out, indent=1))
    for name, row in out["runs"].items():
        print(name, {k: row.get(k) for k in ("seeds", "full_pool", "mean_macro_f1_100_1000",
                                             "labels_to_95pct_of_full_pool", "at_500")})


if __name__ == "__main__":
    main()
