"""Reading simulation results: the target-table numbers of a run, the summary over seeds and the
learning curve image. ``python -m learner.simulation DIR [DIR ...]`` prints the markdown table."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


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
    import matplotlib  # heavy (about a second): only the curve needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the Agg backend (no display)

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
