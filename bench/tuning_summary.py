"""Summarise learner variants simulated on a dev split (``simulate --dev-fraction 0.2``: the test
split is never read) into ``<dir>/summary.json``: per variant and seed the mean macro-F1 over the
curve, the value at 500 labels, the first labels at 95 % of that run's full-pool macro-F1, and the
paired difference to ``--base``.

The runs (one directory per variant, ``--train`` JSON as named in the README of the directory):

    python manage.py simulate --data ../shared/datasets/banking77_longtail.jsonl --budget 1000 \\
        --wave-size 100 --strategy default --seed 0 --dev-fraction 0.2 --train '<JSON>' \\
        --out bench/results/sim_tuning/banking77_longtail/<variant>
    python bench/tuning_summary.py bench/results/sim_tuning/banking77_longtail --base base
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sim_siblings import standard_error  # bench/ is sys.path[0] when run as a script


def run_row(result: dict) -> dict:
    curve = np.array([w["macro_f1"] for w in result["waves"]])
    labels = [w["labels"] for w in result["waves"]]
    goal = 0.95 * result["full_pool_macro_f1"]
    return {"mean_macro_f1": round(float(curve.mean()), 4),
            "at_500": round(float(curve[labels.index(500)]), 4) if 500 in labels else None,
            "labels_to_95pct": next((n for n, f in zip(labels, curve, strict=True) if f >= goal), None),
            "full_pool": round(float(result["full_pool_macro_f1"]), 4),
            "curve": [round(float(v), 4) for v in curve],
            "evaluated_on": result.get("evaluated_on"),
            # waves whose model was coarse -> fine (what hierarchy="auto" chose); None for runs made
            # before simulate recorded the structure
            "coarse_then_fine_waves": (sum(w["structure"] == "coarse_then_fine" for w in result["waves"])
                                       if all("structure" in w for w in result["waves"]) else None),
            "blend_waves": (sum(w["structure"] == "blend" for w in result["waves"])
                            if all("structure" in w for w in result["waves"]) else None),
            "train_options": result["config"].get("train_options")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--base", default="base")
    args = parser.parse_args()
    root = Path(args.directory)
    table: dict = {}
    for variant in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(variant.glob("default-seed*.json")):
            result = json.loads(f.read_text())
            table.setdefault(variant.name, {})[f"seed{result['seed']}"] = run_row(result)
    base = table.get(args.base, {})
    for name, seeds in table.items():
        for seed, row in seeds.items():
            if name != args.base and seed in base:
                row["diff_mean_vs_base"] = round(row["mean_macro_f1"] - base[seed]["mean_macro_f1"], 4)
                if row["at_500"] is not None and base[seed]["at_500"] is not None:
                    row["diff_at_500_vs_base"] = round(row["at_500"] - base[seed]["at_500"], 4)
    paired = {}
    for name, seeds in table.items():
        diffs = [row["diff_mean_vs_base"] for row in seeds.values() if "diff_mean_vs_base" in row]
        if len(diffs) > 1:
            paired[name] = {"seeds": len(diffs), "mean_macro_f1": round(float(np.mean(
                                [row["mean_macro_f1"] for row in seeds.values()])), 4),
                            "diff_mean_vs_base": round(float(np.mean(diffs)), 4),
                            "standard_error": round(standard_error(np.array(diffs)), 4)}
    out = {"note": "dev split of the pool (test never read); machine: 2 cores shared with other sessions (loaded)",
           "base": args.base, "paired": paired, "variants": table}
    (root / "summary.json").write_text(json.dumps(out, indent=1))
    for name, seeds in table.items():
        for seed, row in seeds.items():
            print(name, seed, row["mean_macro_f1"], row["at_500"], row["labels_to_95pct"],
                  row.get("diff_mean_vs_base"), row.get("diff_at_500_vs_base"))
    for name, row in paired.items():
        print(f"{name}: paired diff vs {args.base} {row['diff_mean_vs_base']:+.4f} ± {row['standard_error']:.4f} "
              f"over {row['seeds']} seeds")


if __name__ == "__main__":
    main()
