"""Does a threshold chosen "with 95 % confidence" fall short of its precision target at most 5 % of
the time? Checked on synthetic labels whose true precision is known exactly.

Two rules side by side on the same draws:
- ``scan_corrected`` (the product's ``learner.thresholds.choose_thresholds_with_confidence``): the
  lowest cut whose Wilson bound reaches the target, each cut's bound at the per-cut confidence
  that keeps the whole scan at 95 % (``learner.precision_bounds.scan_confidence``);
- ``per_cut_95`` (the rule before it): the same scan with a plain 95 % bound at every cut.

Two settings:
- ``flat``: every prediction right with probability p whatever its score (p = 0.88, 0.9): no
  threshold has precision >= 0.9, so any threshold chosen falls short; at p = 0.9 (the least
  favourable case) a 95 % rule may choose one for at most 5 % of labels;
- ``family``: one label per trial, ``n`` predictions (20-400), top probabilities s ~ Beta(a, 1),
  each right with probability s^b (a, b drawn per trial, from easy to hopeless), so the true
  precision at threshold t is E[s^b | s >= t] = a / (a + b) * (1 - t^(a+b)) / (1 - t^a). Reported:
  labels given a threshold, the share of *all* labels whose threshold falls short (the rate a
  95 % rule bounds), the share of those given one, and the mean share of predictions kept
  (what automation keeps), beside the oracle's (the lowest threshold whose true precision
  reaches 0.9).

Writes bench/results/threshold_rule.json.

    python bench/threshold_rule_bench.py [--trials 3000] [--flat-draws 2000]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.estimates import wilson_lower_bounds  # noqa: E402
from learner.thresholds import choose_thresholds_with_confidence  # noqa: E402

TARGET = 0.9
OUT = ROOT / "bench" / "results" / "threshold_rule.json"


def true_precision(t: float, a: float, b: float) -> float:
    """Precision of the rows with s >= t when s ~ Beta(a, 1) and P(correct | s) = s^b."""
    if t <= 0:
        return a / (a + b)
    return a / (a + b) * (1 - t ** (a + b)) / (1 - t**a)


def per_cut_95(s: np.ndarray, correct: np.ndarray, confidence: float) -> float | None:
    """The rule before: the lowest cut whose plain per-cut Wilson bound reaches the target."""
    order = np.argsort(-s, kind="stable")
    s, h = s[order], correct[order].astype(float)
    n = np.arange(1, len(s) + 1, dtype=float)
    lo = wilson_lower_bounds(np.cumsum(h) / n, n, confidence)
    ok = np.flatnonzero(np.r_[s[1:] != s[:-1], True] & (lo >= TARGET - 1e-12))
    return float(s[ok[-1]]) if len(ok) else None


def scan_corrected(s: np.ndarray, correct: np.ndarray, confidence: float) -> float | None:
    """The product's chooser: one label ("a") predicted for every row; a wrong row's truth is "b"."""
    proba = np.column_stack([s, 1 - s])
    y_idx = np.where(correct, 0, 1)
    chosen, table = choose_thresholds_with_confidence(proba, y_idx, ["a", "b"], {"a": {"precision": TARGET}},
                                                      confidence=confidence)
    return chosen["a"] if table[0]["feasible"] else None


RULES = {"scan_corrected": scan_corrected, "per_cut_95": per_cut_95}


def flat(rng, draws: int, confidence: float) -> list[dict]:
    out = []
    for p in (0.88, 0.9):
        for n in (50, 400):
            chosen = {name: 0 for name in RULES}
            for _ in range(draws):
                s, correct = rng.random(n), rng.random(n) < p
                for name, rule in RULES.items():
                    chosen[name] += rule(s, correct, confidence) is not None
            out.append({"precision": p, "predictions": n, "draws": draws,
                        **{f"{name}_chose_a_threshold": c / draws for name, c in chosen.items()}})
            print(out[-1], flush=True)
    return out


def family(rng, trials: int, confidence: float) -> dict:
    tally = {name: {"chosen": 0, "short": 0, "kept": []} for name in RULES}
    oracle = []
    grid = np.linspace(0.0, 1.0, 4001)[:-1]
    for _ in range(trials):
        a, b, n = rng.uniform(0.5, 6.0), rng.uniform(0.3, 3.0), int(rng.integers(20, 401))
        s = rng.beta(a, 1.0, size=n)
        correct = rng.random(n) < s**b
        reach = np.flatnonzero(np.array([true_precision(t, a, b) for t in grid]) >= TARGET)
        oracle.append(1 - grid[reach[0]] ** a if len(reach) else 0.0)
        for name, rule in RULES.items():
            t = rule(s, correct, confidence)
            kept = 0.0
            if t is not None:
                tally[name]["chosen"] += 1
                tally[name]["short"] += true_precision(t, a, b) < TARGET
                kept = 1 - t**a  # share of the label's predictions kept
            tally[name]["kept"].append(kept)
    out = {"trials": trials, "oracle_mean_kept_share": float(np.mean(oracle))}
    for name, t in tally.items():
        out[name] = {"labels_given_a_threshold": t["chosen"], "short_of_target": int(t["short"]),
                     "short_share_of_all_labels": t["short"] / trials,
                     "short_share_of_labels_given_one": t["short"] / t["chosen"] if t["chosen"] else None,
                     "mean_kept_share": float(np.mean(t["kept"]))}
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--flat-draws", type=int, default=2000)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.time()
    result = {"flat": flat(rng, args.flat_draws, args.confidence), "family": family(rng, args.trials, args.confidence)}
    out = {"command": "python bench/threshold_rule_bench.py " + " ".join(sys.argv[1:]),
           "target": TARGET, "confidence": args.confidence, "allowed_rate": round(1 - args.confidence, 6),
           "seconds": round(time.time() - started, 1), **result}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(result["family"], indent=1))


if __name__ == "__main__":
    main()
