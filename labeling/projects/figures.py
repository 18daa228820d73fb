"""The dashboard's figures from a training report, each under one small-n rule: a figure that
fewer than ``MIN_N`` items stand behind is None (shown "—"), with the count and why, never a
"1.000" from three items. Learning curve, per-class table, confusion matrix, PR curves and
reliability bins (the held-out report's, else the pool scores of labeled items).

A mean over k labels (macro-F1, rare-label recall) stands on the labels' held-out items: it is
given from ``MIN_N`` items per label on average (``MIN_N`` · k in all), the rule each of its
labels' figures follows alone."""
import numpy as np

from labeling.modeling.models import ModelVersion
from labeling.projects.estimates import MIN_N

CURVE_POINTS = 60
RELIABILITY_BINS = 10
REPORT_KEYS = ("validation", "val", "metrics", "report", "test", "evaluation")
# The confusion matrix's last column: held-out rows emitted as a coarse label that is no class of
# the matrix (the fine floor's fallback). Each such row is a miss for its true label.
FALLBACK_COLUMN = "fallback (coarse label)"


def find_report(metrics: dict | None) -> dict | None:
    """The classification report (per_class, macro_f1, confusion_matrix…) inside a version's metrics,
    whether stored at the top level or under a key such as "validation"."""
    if not isinstance(metrics, dict):
        return None
    if "per_class" in metrics:
        return metrics
    for key in REPORT_KEYS:
        if isinstance(inner := metrics.get(key), dict) and (found := find_report(inner)):
            return found
    return None


def find_key(metrics: dict | None, key: str, depth: int = 2):
    if not isinstance(metrics, dict):
        return None
    if key in metrics:
        return metrics[key]
    found = (find_key(value, key, depth - 1) for value in metrics.values()) if depth else ()
    return next((value for value in found if value is not None), None)


def _row_count(row: dict) -> int:
    return row.get("count", row.get("support")) or 0


def _mean_too_few(per_class: dict, names, what: str) -> tuple[int, str | None]:
    """The held-out items behind a mean over ``names`` (those with items), and why it is not given
    when they are fewer than ``MIN_N`` per label (None when it is)."""
    counts = [_row_count(per_class[name]) for name in names if name in per_class and _row_count(per_class[name])]
    n = int(sum(counts))
    if not counts:
        return 0, f"no held-out items of {what}"
    if n < MIN_N * len(counts):
        return n, (f"{n} held-out items over {len(counts)} {what}: fewer than {MIN_N} per label")
    return n, None


def learning_curve(versions, rare_threshold: int, estimates: dict | None = None) -> list[dict]:
    """macro-F1 and mean recall of the version's rare labels (fewer training examples than the
    project's rare threshold), both on the version's validation split, each None below the small-n
    rule (``*_reason`` says why, ``held_out_n`` how many items); and the design-based macro-F1
    estimate on the pool with its 95 % interval (``estimates``: version_estimates)."""
    points = []
    for version in versions:
        report = find_report(version.metrics)
        if version.state in (ModelVersion.TRAINING, ModelVersion.FAILED) or report is None:
            continue
        per_class = report.get("per_class", {})
        counts = (version.metrics or {}).get("class_counts") or {
            name: row.get("count", 0) for name, row in per_class.items()}
        rare = [name for name, n in counts.items() if n < rare_threshold]
        rare_recalls = [per_class[name]["recall"] for name in rare
                        if name in per_class and per_class[name].get("support")]
        stored_rare = find_key(version.metrics, "rare_recall")
        held_out, macro_reason = _mean_too_few(per_class, list(per_class), "labels")
        _, rare_reason = _mean_too_few(per_class, rare, "rare labels")
        rare_recall = stored_rare if isinstance(stored_rare, (int, float)) else (
            float(np.mean(rare_recalls)) if rare_recalls else None)
        points.append({
            "version": version.number, "state": version.state, "train_size": version.train_size,
            "held_out_n": held_out,
            "macro_f1": None if macro_reason else report.get("macro_f1"), "macro_f1_reason": macro_reason,
            "rare_recall": None if rare_reason else rare_recall,
            "rare_recall_reason": rare_reason if rare_recall is not None else None,
            "macro_f1_estimate": ((estimates or {}).get(version.number) or {}).get("macro_f1_estimate"),
            "macro_f1_ci": ((estimates or {}).get(version.number) or {}).get("macro_f1_ci"),
        })
    return points


def per_class_table(report: dict | None) -> list[dict]:
    """Validation precision / recall / F1 per label; None (shown "—") where fewer than
    ``MIN_N`` validation items stand behind a figure (the label's items for recall and F1, those
    predicted as it for precision): no "1.000" from three items, no "0.000" from none."""
    if not report:
        return []
    rows = []
    predicted = _predicted_counts(report)
    for name, row in report.get("per_class", {}).items():
        count = _row_count(row)
        out = {"label": name, **{k: row.get(k) for k in ("precision", "recall", "f1", "support",
                                                           "average_precision")}}
        if count < MIN_N:
            out["recall"] = out["f1"] = out["average_precision"] = None
        if predicted.get(name, count) < MIN_N:
            out["precision"] = out["f1"] = None
        rows.append(out)
    return rows


def _predicted_counts(report: dict) -> dict:
    """Validation items predicted as each label (confusion matrix column sums), where known."""
    classes, matrix = report.get("classes"), report.get("confusion_matrix")
    if not classes or not matrix:
        return {}
    return dict(zip(classes, np.asarray(matrix, dtype=float).sum(axis=0).tolist(), strict=False))


def confusion(report: dict | None) -> dict | None:
    """The held-out confusion matrix (rows true, columns predicted) accounting for every row: the
    rows emitted as a coarse label outside the classes (``predicted_outside`` of the report, else
    what a row's items lack from its cells) make a last column, ``FALLBACK_COLUMN``."""
    if not report or "confusion_matrix" not in report:
        return None
    classes = report.get("classes") or list(report.get("per_class", {}))
    matrix = report["confusion_matrix"]
    outside = report.get("predicted_outside")
    if not isinstance(outside, list) or len(outside) != len(matrix):
        per_class = report.get("per_class") or {}
        # a row's items (weighted: support) less its cells; an older report's figures may not add up: no less than 0
        supports = [(per_class.get(name) or {}).get("support") for name in classes]
        outside = [max(0, s - sum(row)) if isinstance(s, (int, float)) else 0
                   for s, row in zip(supports, matrix, strict=False)]
    outside = [int(v) if float(v).is_integer() else round(float(v), 6) for v in outside]
    if not any(v > 0 for v in outside):
        return {"classes": classes, "matrix": matrix, "extra_columns": [], "fallbacks": 0}
    return {"classes": classes, "matrix": [[*row, v] for row, v in zip(matrix, outside, strict=False)],
            "extra_columns": [FALLBACK_COLUMN], "fallbacks": sum(outside)}


def pr_curves(report: dict | None, scored: dict | None) -> dict:
    """Per label: the precision-recall curve, its average precision and how many positives it
    rests on. Below ``MIN_N`` positives the AP is None (shown "—" with the count) and no curve
    is drawn, by the rule the per-class table follows: no "AP 1.00" from four items."""
    stored = find_key(report, "pr_curves") if report else None
    if isinstance(stored, dict) and stored:
        counts = {name: row.get("count", row.get("support")) for name, row in (report.get("per_class") or {}).items()}
        return {"source": "held-out validation of the training report", "min_n": MIN_N,
                "curves": {name: _small_n_curve(curve, counts.get(name)) for name, curve in stored.items()}}
    if scored is None:
        return {"source": None, "min_n": MIN_N, "curves": {}}
    from sklearn.metrics import average_precision_score, precision_recall_curve  # heavy: not at start-up

    curves = {}
    for i, name in enumerate(scored["classes"]):
        positives = scored["y"] == i
        if not positives.any() or positives.all():
            continue
        precision, recall, _ = precision_recall_curve(positives, scored["proba"][:, i])
        keep = np.unique(np.linspace(0, len(recall) - 1, min(CURVE_POINTS, len(recall))).astype(int))
        curves[name] = _small_n_curve({
            "precision": np.round(precision[keep], 4).tolist(), "recall": np.round(recall[keep], 4).tolist(),
            "average_precision": float(average_precision_score(positives, scored["proba"][:, i])),
            "positives": int(positives.sum())})
    return {"source": "pool scores of labeled items (includes training items: optimistic)", "min_n": MIN_N,
            "curves": curves}


def _small_n_curve(curve, fallback_count=None):
    """A curve with ``too_few`` set, and neither AP nor points where it rests on fewer than
    ``MIN_N`` positives (its own count, else the report's count of the label's items)."""
    if not isinstance(curve, dict):
        return curve
    positives = curve.get("positives", fallback_count)
    if positives is None:  # an old report that does not say: left as it was
        return curve
    if positives >= MIN_N:
        return {**curve, "positives": positives, "too_few": False}
    return {**curve, "positives": positives, "too_few": True, "average_precision": None,
            "precision": [], "recall": []}


def reliability(report: dict | None, scored: dict | None) -> dict:
    """Accuracy against mean confidence per confidence bin, each bin with its item count; a bin
    holding fewer than ``MIN_N`` items keeps its count but no accuracy (marked ``too_few``). The
    ECE, a weighted mean over the bins, is None (``ece_reason`` says why) when no bin is drawn."""
    stored = find_key(report, "reliability") if report else None
    if isinstance(stored, (list, dict)) and stored:
        bins = [_small_n_bin(b) for b in stored] if isinstance(stored, list) else stored
        return {"source": "held-out validation of the training report", "bins": bins, "min_n": MIN_N,
                **_ece(find_key(report, "ece"), bins)}
    if scored is None:
        return {"source": None, "bins": [], "ece": None, "ece_reason": None, "min_n": MIN_N}
    confidence = scored["proba"].max(axis=1)
    correct = scored["proba"].argmax(axis=1) == scored["y"]
    edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
    which = np.clip(np.ceil(confidence * RELIABILITY_BINS).astype(int) - 1, 0, RELIABILITY_BINS - 1)
    bins, ece = [], 0.0
    for b in range(RELIABILITY_BINS):
        inside = which == b
        n = int(inside.sum())
        if n:
            acc, conf = float(correct[inside].mean()), float(confidence[inside].mean())
            ece += n / len(confidence) * abs(acc - conf)
        else:
            acc = conf = None
        bins.append(_small_n_bin({"low": float(edges[b]), "high": float(edges[b + 1]), "count": n,
                                  "accuracy": acc, "confidence": conf}))
    return {"source": "pool scores of labeled items (includes training items: optimistic)",
            "bins": bins, "min_n": MIN_N, **_ece(ece, bins)}


def _ece(ece, bins) -> dict:
    """The ECE as given, or None with the reason where every bin with items holds fewer than ``MIN_N``."""
    if not isinstance(bins, list) or not all(isinstance(b, dict) for b in bins):
        return {"ece": ece, "ece_reason": None}
    counts = [b.get("count") for b in bins if isinstance(b.get("count"), (int, float)) and b.get("count")]
    if not counts or any(n >= MIN_N for n in counts):
        return {"ece": ece, "ece_reason": None}
    return {"ece": None, "ece_reason": f"{int(sum(counts))} items, every bin fewer than {MIN_N}"}


def _small_n_bin(row):
    if not isinstance(row, dict) or not isinstance(row.get("count"), (int, float)):
        return row
    too_few = 0 < row["count"] < MIN_N
    return {**row, "too_few": too_few, **({"accuracy": None} if too_few else {})}
