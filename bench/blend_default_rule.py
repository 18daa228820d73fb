"""Round 11's rule (bench/results/blend_default/README.md, fixed before the runs), judged on the
two coverage runs of seeds 6-11: today's ``auto`` against ``auto`` serving the blend.

Reads ``bench/results/estimate_coverage<TAG>.json`` and ``calibration<TAG>.json`` of both arms and
writes ``bench/results/blend_default/verdict.json``: per set, each condition with its figures and
whether it holds, and the verdict.

    python bench/blend_default_rule.py --baseline _auto_today_seeds6-11 --candidate _auto_blend_seeds6-11
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = ("precision", "recall")


def rows(tag: str) -> dict:
    data = json.loads((RESULTS / f"estimate_coverage{tag}.json").read_text())
    return {(r["data"], r["figure"], r["against"]): r for r in data["coverage"]}


def macro_f1(tag: str) -> dict:
    data = json.loads((RESULTS / f"calibration{tag}.json").read_text())
    return {name: entry["mean_over_waves"] for name, entry in data["macro_f1"].items()}


def judge(baseline: str, candidate: str) -> dict:
    base, cand = rows(baseline), rows(candidate)
    base_f1, cand_f1 = macro_f1(baseline), macro_f1(candidate)
    sets = sorted({key[0] for key in cand})
    out: dict = {"baseline": baseline, "candidate": candidate, "sets": {}}
    for name in sets:
        checks = {}
        for fig in FIGURES:
            test = cand[(name, fig, "test")]
            below = test["missed_below"] / test["intervals"]
            checks[f"overstated_{fig}"] = {"share": round(below, 4), "limit": 0.05, "holds": below <= 0.05}
            c, b = cand[(name, fig, "estimand")], base[(name, fig, "estimand")]
            se = math.sqrt(c["coverage_se_over_runs"] ** 2 + b["coverage_se_over_runs"] ** 2)
            diff = c["coverage"] - b["coverage"]
            checks[f"estimand_{fig}"] = {"candidate": round(c["coverage"], 4), "baseline": round(b["coverage"], 4),
                                         "difference": round(diff, 4), "two_se": round(2 * se, 4),
                                         "holds": c["coverage"] >= 0.90 and diff >= -2 * se}
            checks[f"test_coverage_{fig}"] = {"candidate": round(test["coverage"], 4),
                                              "baseline": round(base[(name, fig, "test")]["coverage"], 4),
                                              "note": "reported, not a condition"}
        diff_f1 = cand_f1[name] - base_f1[name]
        checks["macro_f1_over_waves"] = {"candidate": round(cand_f1[name], 4), "baseline": round(base_f1[name], 4),
                                         "difference": round(diff_f1, 4), "holds": diff_f1 >= -0.005}
        out["sets"][name] = {"checks": checks,
                             "holds": all(v["holds"] for v in checks.values() if "holds" in v)}
    out["adopt"] = all(entry["holds"] for entry in out["sets"].values())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--candidate", required=True)
    args = parser.parse_args()
    verdict = judge(args.baseline, args.candidate)
    (RESULTS / "blend_default").mkdir(exist_ok=True)
    (RESULTS / "blend_default" / "verdict.json").write_text(json.dumps(verdict, indent=1))
    print(json.dumps(verdict, indent=1))


if __name__ == "__main__":
    main()
