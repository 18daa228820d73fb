"""Data behind the project dashboard (served as JSON, drawn by static/js/dashboard/main.js): labeled
counts per label per wave, the learning curve, per-class metrics, confusion matrix, PR curves,
reliability diagram, thresholds with their review share, annotator throughput and agreement.
The figures from a training report, and their small-n rule, are in labeling/projects/figures.py.

PR curves and reliability bins come from the training report (held-out validation or out-of-fold
predictions). Only for versions whose report lacks them are they computed from the stored pool scores (ItemScore) of labeled items. Those items include the model's own
training items, so these curves are optimistic; the payload says which source each chart used."""
import logging
from collections import Counter, defaultdict
from itertools import groupby
from operator import itemgetter

import numpy as np
from django.db import connection, transaction

from labeling.annotations import selectors as annotation_selectors
from labeling.annotations.models import Annotation
from labeling.annotations.resolve import ANSWER_ORDER, Answer, resolve
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import pool_threshold_rows
from labeling.modeling.selectors import model_choices, model_labels, threshold_guard_rows, threshold_mix_summary
from labeling.modeling.versions import active_model
from labeling.projects.estimates import MIN_N, version_estimates
from labeling.projects.figures import (
    confusion,
    find_key,
    find_report,
    learning_curve,
    per_class_table,
    pr_curves,
    reliability,
)
from labeling.waves.models import WaveItem

log = logging.getLogger(__name__)

MAX_SCORED_ITEMS = 20000   # enough for smooth curves; bounds the dashboard's memory and time
# The per-wave column of labeled items no wave brought (imports, a lead's label outside any pick).
NO_WAVE = "outside any wave"
FALLBACKS = "fallbacks to it (coarse)"  # a coarse label's thresholds row: it holds back the fallbacks to it
ESTIMATED_STATES = (ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED)
ESTIMATES_SOURCE = ("picks with a known inclusion probability from waves planned after the model, weighted by "
                    "1/π; 95 % intervals")


def dashboard_data(project) -> dict:
    labels = list(project.labels.order_by("order", "name"))
    label_names = {label.pk: label.name for label in labels}
    per_wave, totals = labeled_per_wave(project, label_names)
    # A coarse label's count takes in its fine labels' items (a fine answer implies its parent); labeled_exact adds up
    under = annotation_selectors.counts_under_parents(totals, {lab.name: label_names.get(lab.parent_id) for lab in labels})
    rare = sorted(name for name in label_names.values() if under.get(name, 0) < project.rare_threshold)
    versions = list(ModelVersion.objects.filter(project=project).defer("artifact").order_by("number"))
    model = active_model(project) or next(
        (v for v in reversed(versions) if v.state == ModelVersion.READY), None)
    # The report names the model's classes as it learned them; the tables show its labels' names now.
    report = current_names(find_report(model.metrics), model_labels(model, label_names)) if model else None
    # The pool scores (a second's reads at 30,000 labeled items) only for a chart the report lacks
    scored = scored_labeled_items(project, model, label_names) if model and None in (
        pr_curves(report, None)["source"], reliability(report, None)["source"]) else None
    estimates = version_estimates(project, [v for v in versions if v.state in ESTIMATED_STATES])
    pairs = _optional_panel(annotation_selectors.double_labeled_pairs, project)  # read once for both panels
    return {
        "project": project.slug,
        "labels": [{"name": lab.name, "parent": label_names.get(lab.parent_id), "rare": lab.name in rare,
                    "labeled": under.get(lab.name, 0), "labeled_exact": totals.get(lab.name, 0)} for lab in labels],
        "rare_threshold": project.rare_threshold,
        "labeled_per_wave": per_wave,
        "learning_curve": learning_curve(versions, project.rare_threshold, estimates),
        "model": None if model is None else {
            "number": model.number, "state": model.state, "train_size": model.train_size,
            "temperature": model.temperature, "calibration": (model.metrics or {}).get("calibration"),
            "review_share": (model.metrics or {}).get("review_share"),
            "not_estimable": (model.metrics or {}).get("not_estimable", []),
            "notes": (model.metrics or {}).get("notes", []),
            "choices": (model_choices(model) or {}).get("summary")},
        "per_class": per_class_table(report),
        "estimates": None if model is None else {"model": model.number, **estimates.get(model.number, {}),
                                                 "source": ESTIMATES_SOURCE},
        "confusion": confusion(report),
        "pr_curves": pr_curves(report, scored),
        "reliability": reliability(report, scored),
        "min_n": MIN_N,
        "thresholds": thresholds_table(model, report, label_names),
        "throughput": _optional_panel(annotation_selectors.annotator_throughput, project, pairs=pairs),
        "agreement": _optional_panel(annotation_selectors.agreement_summary, project, pairs=pairs),
    }


def _optional_panel(func, project, **kwargs):
    """A panel another app computes: a failure there blanks it (logged), not the whole dashboard."""
    try:
        return func(project, **kwargs)
    except Exception:  # noqa: BLE001 - one panel must not break the page
        log.exception("%s failed for project %s", func.__qualname__, project.slug)
        return None


def labeled_per_wave(project, label_names: dict) -> tuple[dict, dict]:
    """{"waves": [...], "series": {label: [items per wave]}} and {label: items}: each labeled item
    counted once, under its resolved label (``resolve``: the lead's adjudication, else the
    majority — the label the export writes), in the wave the export gives it (the newest answer
    given through a wave lease, else the item's first wave pick). Items no wave brought — labeled
    by an import or a lead outside any pick — go to the last column, ``NO_WAVE``. So the totals are
    the number of labeled items, a label's total is what rare status reads, and each wave's
    column adds up to the export's rows of that wave.

    One streamed pass over the labeled answers in item order, holding only the counts and the
    first wave of each picked item; an item with a single answer, most of them, needs no vote.
    The streams' cursors are planned for reading every row, as this pass does, not for the first
    tenth (PostgreSQL's default for a cursor: nested loops over every answer, twice the database's
    time at 30,000 labeled items)."""
    first_wave: dict[int, int] = {}
    answers = (Annotation.objects.filter(project=project, undone=False, skipped=False, label__isnull=False)
               .order_by("item_id", *ANSWER_ORDER)  # "newest" by time, then id: as training and the export
               .values_list("item_id", "label_id", "origin", "assignment__wave_item__wave__number"))
    grid: Counter = Counter()  # (wave number or None, label id) → items
    with transaction.atomic():  # SET LOCAL: for this transaction only
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        for item_id, number in (WaveItem.objects.filter(wave__project=project).order_by("-wave__number")
                                .values_list("item_id", "wave__number").iterator(chunk_size=10000)):
            first_wave[item_id] = number  # newest first: the earliest wave is written last
        for item_id, rows in groupby(answers.iterator(chunk_size=10000), key=itemgetter(0)):
            rows = list(rows)
            label_id = rows[0][1] if len(rows) == 1 else resolve([Answer(*r[1:3], n) for n, r in enumerate(rows)]).label_id
            wave = next((row[3] for row in reversed(rows) if row[3] is not None), first_wave.get(item_id))
            grid[wave, label_id] += 1
    totals: Counter = Counter()
    for (_, label_id), n in grid.items():
        totals[label_names.get(label_id, "?")] += n
    numbers = {wave for wave, _ in grid}
    waves = sorted(w for w in numbers if w is not None) + ([None] if None in numbers else [])
    series = {name: [grid[w, label_id] for w in waves] for label_id, name in label_names.items()}
    return {"waves": [f"wave {w}" if w is not None else NO_WAVE for w in waves], "series": series}, dict(totals)


def current_names(report: dict | None, labels) -> dict | None:
    """A copy of a training report whose per-class rows, confusion-matrix classes, PR curves and
    thresholds table name each class by its label's name now (``labels``: selectors.ModelLabels)."""
    if not report:
        return report
    out = dict(report)
    if isinstance(report.get("per_class"), dict):
        out["per_class"] = {labels.shown(str(name)): row for name, row in report["per_class"].items()}
    if isinstance(report.get("classes"), list):
        out["classes"] = [labels.shown(str(name)) for name in report["classes"]]
    if isinstance(report.get("pr_curves"), dict):
        out["pr_curves"] = {labels.shown(str(name)): curve for name, curve in report["pr_curves"].items()}
    return out


def scored_labeled_items(project, model, label_names: dict) -> dict | None:
    """Probabilities of the model's stored scores for labeled items, with their resolved labels
    (matched to the model's classes by label id: a renamed label keeps its column)."""
    labels = model_labels(model, label_names)
    classes = [labels.shown(name) for name in labels.trained]
    if not classes:
        return None
    index = {pk: i for i, pk in enumerate(labels.ids) if pk is not None}
    scores = (ItemScore.objects.filter(model_version=model, item__annotations__undone=False,
                                       item__annotations__skipped=False,
                                       item__annotations__label__isnull=False)
              .distinct().order_by("-item_id").values_list("item_id", "probs")[:MAX_SCORED_ITEMS])
    probs = dict(scores)
    if not probs:
        return None
    answers = defaultdict(list)
    for order, (item_id, label_id, origin) in enumerate(  # time order, then id: the "newest" of training
            Annotation.objects.filter(item_id__in=list(probs), undone=False, skipped=False, label__isnull=False)
            .order_by("item_id", *ANSWER_ORDER).values_list("item_id", "label_id", "origin").iterator(chunk_size=5000)):
        answers[item_id].append(Answer(label_id, origin, order))
    rows, truth = [], []
    for item_id, blob in probs.items():
        decided = resolve(answers.get(item_id, []))
        if decided is None or decided.label_id not in index:
            continue  # labeled with a label the model does not know (e.g. newer than the model)
        row = np.frombuffer(bytes(blob), dtype="<f2").astype(np.float32)
        if row.shape[0] != len(classes):
            continue
        rows.append(row)
        truth.append(index[decided.label_id])
    if not rows:
        return None
    return {"classes": classes, "proba": np.vstack(rows), "y": np.asarray(truth)}


def _threshold_row(row: dict, labeled_mix: bool = False) -> dict:
    """One report row as the table shows it: targets and intervals as text, no per-fold lists; with
    ``labeled_mix`` (held-out figures at another mix) the held-out precision at the labeled mix."""
    target = row.get("target")
    if isinstance(target, dict):  # {"precision": p, "recall": r}; older reports: kind + number
        # precision first: a jsonb column does not keep the keys' order
        target = ", ".join(f"{kind} ≥ {target[kind]:g}" for kind in ("precision", "recall") if kind in target) or None
    elif target is not None and row.get("kind"):
        target = f"{row['kind']} ≥ {target:g}"

    def ci(key):
        value = row.get(key)
        return f"{value[0]:.2f}–{value[1]:.2f}" if isinstance(value, list) and len(value) == 2 else None

    out = {"label": row.get("label"), "target": target, "threshold": row.get("threshold"),
           "precision_lower_bound": row.get("precision_lower"), "held_out_precision": row.get("held_out_precision"),
           "held_out_precision_95": ci("held_out_precision_ci"),
           **({"held_out_precision_labeled_mix": row.get("held_out_precision_labeled_mix")} if labeled_mix else {}),
           "held_out_recall": row.get("held_out_recall"), "held_out_recall_95": ci("held_out_recall_ci"),
           "met": {True: "yes", False: "no", None: "—"}.get(row.get("met"), row.get("met")),
           "why": row.get("met_reason") or row.get("reason"), "review_share": row.get("review_share")}
    if "met_reason" not in row:  # an older report: its "met" was judged on the rows that chose the threshold
        out.update(met="—", why="trained before held-out checks: not judged on new data",
                   precision=row.get("precision"), recall=row.get("recall"))
    return out


def thresholds_table(model, report: dict | None, label_names: dict | None = None) -> dict:
    """Per label: target, threshold, achieved precision / recall, share going to review. From the
    training report when it has the table; else from the thresholds and the stored pool scores.
    Labels by their names now (``label_names``: the project's label id → name)."""
    if model is None:
        return {"source": None, "rows": []}
    labels = model_labels(model, label_names)
    stored = find_key(model.metrics, "thresholds_table") or find_key(model.metrics, "thresholds")
    if isinstance(stored, list) and stored and isinstance(stored[0], dict):
        mix = threshold_mix_summary((model.metrics or {}).get("threshold_mix"))
        # A guarded project's table says, per label, how much of the kept mass the guard counted
        # as confusions its labeled items do not show (learner.precision_bounds.unseen_confusion).
        guarded = threshold_guard_rows(model.metrics) > 0
        # which mix the held-out figures are at (the page titles their columns by it): not the per-class table's
        used = {k: ((model.metrics or {}).get("threshold_mix") or {}).get(k) for k in ("used", "unlabeled_rows")}
        other_mix = used["used"] not in (None, "labeled")  # a labeled-mix column would repeat held_out_precision
        # The coarse thresholds a target chose govern the fallbacks to a coarse label, which the class table
        # lacks (a coarse label without answers of its own is no class): their rows show the target and why.
        coarse = ((model.metrics or {}).get("hierarchy") or {}).get("coarse_thresholds") or []
        coarse_targets = [row for row in coarse if isinstance(row, dict) and row.get("target") is not None]
        return {"mix": used if used["used"] else None,
                "source": "training report: chosen on held-out predictions; met judged on folds that did not "
                          "choose the threshold" + (f"; {mix}" if mix else "")
                          + ("; guarded against confusions the labeled items do not show" if guarded else ""),
                # label first, then what its threshold holds back: a coarse label's row is about its fallbacks
                "rows": [{"label": None, "applies_to": applies_to} | _threshold_row(row, other_mix)
                         | {"label": labels.shown(row["label"]) if isinstance(row.get("label"), str) else row.get("label")}
                         | ({"unseen_confusion_share": row.get("unseen_confusion")} if guarded else {})
                         for applies_to, table in (("its predictions", stored), (FALLBACKS, coarse_targets))
                         for row in table]}
    return {"source": "pool scores", "rows": pool_threshold_rows(model, labels)}
