"""Design-based estimates of a model version's precision and recall on the pool, for the
dashboard (reads only).

A version's figures come only from labels it was not trained on and whose inclusion probability
is known: the picks with a stated π (random slice and the other draws, ``WaveItem.inclusion_prob``)
of the waves planned with this version or a later one active. Those items were unlabeled when the
version trained, and each was drawn from its wave's eligible pool with a known probability, so
weighting them by 1/π (one stratum per wave and source) gives Hájek estimates over the unlabeled
pool with 95 % Wilson intervals on effective counts (``learner.estimates.design_estimates``).
The version's prediction is its stored top label (``ItemScore``). A figure from fewer than
``MIN_N`` items is not estimated (None with the reason, shown as "—"). Right after a version
activates there is nothing yet: the figures fill in as the next wave is answered.
"""
from __future__ import annotations

from labeling.annotations.selectors import resolve_item_labels
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects.models import Label
from labeling.waves.models import WaveItem
from learner.estimates import design_estimates

MIN_N = 5  # no precision or recall from fewer labeled items than this ("1.000 from three items")


def _sample(project) -> list[tuple]:
    """(wave number, model version number at planning, item id, source id, π) of every answered
    pick with a stated inclusion probability."""
    return list(WaveItem.objects.filter(wave__project=project, inclusion_prob__isnull=False,
                                        wave__model_version__isnull=False)
                .values_list("wave__number", "wave__model_version__number", "item_id", "item__source_id",
                             "inclusion_prob"))


def version_estimates(project, versions: list[ModelVersion] | None = None) -> dict[int, dict]:
    """{version number: estimates} for every given version (default: the project's ready,
    active and retired ones). Each: ``labels`` (per label: prevalence, precision, recall with
    ``*_ci``, n, n_predicted, reasons), ``macro_f1_estimate``, ``macro_f1_ci``,
    ``macro_f1_labels`` and ``sample`` (items, waves, unscored, reason)."""
    if versions is None:
        versions = list(ModelVersion.objects.filter(
            project=project, state__in=[ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED])
            .defer("artifact").order_by("number"))
    picks = _sample(project)
    resolved = resolve_item_labels(project) if picks else {}
    names = dict(Label.objects.filter(project=project).values_list("id", "name"))
    answered = [p for p in picks if p[2] in resolved]
    out = {}
    for version in versions:
        rows = [p for p in answered if p[1] >= version.number]
        classes = [str(c) for c in (version.label_map or [])]
        scores = dict(ItemScore.objects.filter(model_version=version, item_id__in=[p[2] for p in rows])
                      .values_list("item_id", "top_label"))
        scored = [p for p in rows if p[2] in scores and scores[p[2]] < len(classes)]
        y_true = [names[resolved[p[2]]] for p in scored]
        y_pred = [classes[scores[p[2]]] for p in scored]
        everyone = list(dict.fromkeys([*classes, *sorted(set(y_true) - set(classes))]))
        failure = None
        try:
            full = design_estimates(y_true, y_pred, [p[4] for p in scored], classes=everyone,
                                    strata=[f"{p[0]}|{p[3]}" for p in scored] or None, min_n=MIN_N)
        except ValueError as exc:  # e.g. a label named like a key of the estimates object
            full, everyone, failure = design_estimates([], [], [], classes=[], min_n=MIN_N), [], f"not estimated: {exc}"
        waves = sorted({p[0] for p in scored})
        out[version.number] = {
            "labels": [{"label": label, **{k: full[label][k] for k in (
                "prevalence", "prevalence_ci", "precision", "precision_ci", "recall", "recall_ci", "f1", "f1_ci",
                "n", "n_predicted", "reasons")}} for label in everyone],
            "macro_f1_estimate": full["macro_f1_estimate"], "macro_f1_ci": full["macro_f1_ci"],
            "macro_f1_labels": full["macro_f1_labels"],
            "sample": {"items": len(scored), "waves": waves, "unscored": len(rows) - len(scored),
                       "reason": failure or (None if scored else
                           "no answered pick with a known inclusion probability from a wave planned after "
                           f"model v{version.number} yet")},
        }
    return out
