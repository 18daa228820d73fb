"""Pool the interval coverage of several ``bench/estimate_coverage.py`` results (e.g. seeds 0-2 and
3-5 run apart) per arm, so that arms are compared on every seed at once: for each (set, figure,
checked against) the intervals and the ones that held are summed over the files (each file's
coverage × its intervals is a whole count).

    python bench/coverage_pool.py --arm blend=estimate_coverage_blend.json,estimate_coverage_blend_seeds3-5.json \\
        --arm flat=estimate_coverage_flat_today.json,estimate_coverage_flat_today_seeds3-5.json \\
        --out estimate_coverage_blend_vs_flat.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def pooled(files: list[str]) -> dict:
    totals: dict[tuple, list] = {}
    seeds, options = [], []
    for name in files:
        result = json.loads((RESULTS / name).read_text())
        seeds += result["seeds"]
        options.append(result.get("train_options") or {})
        for row in result["coverage"]:
            key = (row["data"], row["figure"], row["against"])
            held, n = totals.setdefault(key, [0, 0]), row["intervals"]
            held[0] += round(row["coverage"] * n)
            held[1] += n
    return {"files": files, "seeds": seeds, "train_options": options,
            "coverage": [{"data": d, "figure": f, "against": a, "intervals": n, "held": h,
                          "coverage": round(h / n, 3) if n else None}
                         for (d, f, a), (h, n) in sorted(totals.items())]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", required=True, metavar="NAME=FILE,FILE")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    arms = {name: pooled(files.split(",")) for name, files in (a.split("=", 1) for a in args.arm)}
    out = {"command": "python bench/coverage_pool.py " + " ".join(f"--arm {a}" for a in args.arm)
                      + f" --out {args.out}", "arms": arms}
    (RESULTS / args.out).write_text(json.dumps(out, indent=1) + "\n")
    for name, arm in arms.items():
        for row in arm["coverage"]:
            if row["figure"] in ("precision", "recall"):
                print(name, row["data"], row["figure"], row["against"], row["coverage"], row["intervals"])


if __name__ == "__main__":
    main()
