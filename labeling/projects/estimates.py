"""Design-based estimates of a model version's precision and recall on the pool, for the
dashboard (reads only).

A version's figures come only from labels it was not trained on and whose inclusion probability
is known: the picks with a stated π (random slice and the other draws, ``WaveItem.inclusion_prob``)
of the waves planned with this version or a later one active. Those items were unlabeled when the
version trained, and each was drawn from its wave's eligible pool with a known probability, so
weighting them by 1/π (one stratum per wave and source) gives Hájek estimates over the unlabeled
pool with 95 % Wilson intervals on effective counts (``learner.estimates.design_estimates``).
The version's prediction is the label it emits (``labeling.modeling.scores.emitted_scores``): its
stored top label, or for a coarse → fine model that falls back to the coarse label
(``ItemScore.fallback``), no prediction of any of its classes: a miss for the item's label and no
label's false positive, also where items answered at the coarse level make a class of that name
(whose own predictions are those that emit it without falling back, as its threshold judges them). A figure from fewer than
``MIN_N`` items is not estimated (None with the reason, shown as "—"). Right after a version
activates there is nothing yet: the figures fill in as the next wave is answered.

Drawn but not answered. A pick can be skipped, disputed (two or more annotators' latest answers
differ and no lead has adjudicated, a dismissed disagreement included: the item's label is the
product's one rule, the majority, ties to the newest answer) or unanswered (its wave still open, or
closed without an answer); a planned wave's picks are not drawn until it opens, and are not counted
before. Unanswered picks leave the estimate, which then assumes they are missing at random: that
the labels and the model's errors on them are like those of the answered picks of the same wave and
source. Skipped items are plausibly the hard ones, so that assumption can flatter the model.
``sample`` therefore says how many known-π picks were drawn and what became of them, and each
figure gets a ``*_range``: the bounds of the estimate whatever the labels of the picks without a
settled label (unanswered and disputed) are (worst and best case, in the manner of Manski's
bounds). A range is no confidence interval: sampling error comes on top of it.

Which pool items the figures speak for. A source never drawn in the estimate's waves (a source
with quota 0 beside quotas that add up to 1 has π = 0: the planner never draws it) is no part of
the population the weights stand for, so the figures say nothing about its items; nor about a
source none of whose picks is answered yet, and a source answered in some of the waves only
speaks for those waves' pools. ``sample["coverage"]`` says which sources the figures cover, how
many unlabeled items in the pool those hold, and which sources (and how many unlabeled items) they
cannot speak for, and why. The pool is what the planner can still draw, the overview's "in the
pool": an item everyone skipped is never drawn again, so it is counted apart (``skipped_items``),
and so is an unanswered copy of an answered item (its duplicate group holds one: π = 0, the
planner takes nothing from such a group; ``copies_items``).
"""
from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Count

from labeling.annotations.disagreement import disputed_items
from labeling.annotations.models import Annotation
from labeling.annotations.selectors import resolve_item_labels
from labeling.items.models import Item
from labeling.modeling.models import ModelVersion
from labeling.modeling.scores import emitted_scores
from labeling.modeling.selectors import model_labels
from labeling.projects.drawable import copies_of_answered, counting_without_jit
from labeling.projects.models import Label, Source
from labeling.projects.selectors import IN_POOL, SKIPPED_BY_EVERYONE, with_answer_flags
from labeling.waves.models import Wave, WaveItem
from learner.estimates import MIN_N, design_estimates
from learner.planning.quotas import QUOTA_TOLERANCE

FIGURES = ("prevalence", "precision", "recall")
STATES = ("answered", "disputed", "skipped", "open", "unanswered")
DRAWN = (Wave.OPEN, Wave.CLOSED)  # the waves whose picks were handed to annotators


def _sample(project) -> list[tuple]:
    """(wave number, model version number at planning, item id, source id, π, wave state) of every
    pick with a stated inclusion probability of an open or closed wave, answered or not. A planned
    wave's picks are not drawn yet: nobody was asked, and the plan may still be discarded (its picks
    deleted) instead of opened, so they join the sample when their wave opens. An item a lead
    excluded leaves the sample whenever it was excluded: the pool the estimates speak for has no
    excluded item, and a design draw restricted to a domain estimates that domain (docs/loop.md)."""
    return list(WaveItem.objects.filter(wave__project=project, inclusion_prob__isnull=False,
                                        wave__model_version__isnull=False, wave__state__in=DRAWN,
                                        item__excluded=False)
                .values_list("wave__number", "wave__model_version__number", "item_id", "item__source_id",
                             "inclusion_prob", "wave__state"))


def _pick_states(project, picks: list[tuple], resolved: dict) -> list[str]:
    """What became of each pick (one of ``STATES``), read from its item: an item has one label
    whichever wave's lease brought it, so a pick left unanswered in one wave and answered when
    drawn again later is answered."""
    ids = {p[2] for p in picks} - set(resolved)
    skipped = set(Annotation.objects.filter(project=project, item_id__in=ids, undone=False, skipped=True)
                  .values_list("item_id", flat=True)) if ids else set()
    # Disputed as the export and the item browser read it (disagreement.disputed_sql): from the
    # answers, so a disagreement a lead dismissed (its task closed, nothing decided) stays disputed.
    disputed = disputed_items(project, {p[2] for p in picks})
    return ["disputed" if p[2] in disputed and p[2] in resolved else "answered" if p[2] in resolved
            else "skipped" if p[2] in skipped else "unanswered" if p[5] == Wave.CLOSED else "open"
            for p in picks]


def _ranges(estimate: dict, known: list[tuple], unsettled: list[tuple]) -> dict:
    """{figure: [lo, hi]} per label: the Hájek estimate over the known and unsettled picks when
    every unsettled pick's label is the worst / the best for that figure. ``known``: (weight,
    truth, prediction); ``unsettled``: (weight, prediction). None where the figure itself is not
    estimated or nothing is unsettled."""
    if not unsettled:
        return {}
    w_known, w_open = sum(k[0] for k in known), sum(u[0] for u in unsettled)
    out = {}
    for label, row in estimate.items():
        hit = sum(w for w, y, yhat in known if y == label == yhat)
        true = sum(w for w, y, _ in known if y == label)
        predicted = sum(w for w, _, yhat in known if yhat == label)
        open_pred = sum(w for w, yhat in unsettled if yhat == label)  # unsettled picks predicted as it
        open_other = w_open - open_pred
        bounds = {"prevalence": (true / (w_known + w_open), (true + w_open) / (w_known + w_open)),
                  # predicted as the label and wrong / right
                  "precision": (hit / (predicted + open_pred), (hit + open_pred) / (predicted + open_pred))
                  if predicted + open_pred else None,
                  # missed positives (every other prediction was the label) / all predictions right
                  "recall": (hit / (true + open_other) if true + open_other else 0.0,
                             (hit + open_pred) / (true + open_pred) if true + open_pred else 1.0)}
        out[label] = {f: list(bounds[f]) if bounds[f] is not None and row[f] is not None else None
                      for f in FIGURES}
    return out


def _summary(counts: dict, items: int, picks: int) -> str:
    drawn = sum(counts[s] for s in STATES)
    if not drawn:
        return "no pick with a known inclusion probability drawn yet"
    text = f"estimated from {picks} of {drawn} drawn picks ({items} distinct items)"
    # a disputed item's label is the majority answer, or the newest answer where the answers tie (1-1)
    disputed = f"{counts['disputed']} disputed (counted with the majority answer, a tie with the newest answer)"
    parts = [disputed if counts["disputed"] else "",
             f"{counts['skipped']} skipped" if counts["skipped"] else "",
             f"{counts['unanswered']} unanswered when the wave closed" if counts["unanswered"] else "",
             f"{counts['open']} still open" if counts["open"] else "",
             f"{counts['unscored']} not scored by the model" if counts["unscored"] else ""]
    parts = [p for p in parts if p]
    if parts:
        text += "; " + ", ".join(parts)
    if counts["skipped"] + counts["unanswered"] + counts["open"]:
        text += "; unanswered picks are treated as missing at random"
    return text


def _unlabeled_by_source(project) -> tuple[dict[int | None, int], int]:
    """(source id (None: no source) → the project's unlabeled items now that are in the pool, how
    many unlabeled items everyone skipped): the overview's "in the pool" and "skipped by everyone"
    counts (``labeling.projects.selectors.item_counts``). The planner never draws an excluded or an
    answered item (a skipped one included), nor a copy of an answered item (``_copies``), so no
    estimate speaks for those."""
    with counting_without_jit():
        rows = list(with_answer_flags(Item.objects.filter(project=project, excluded=False), project)
                    .values("source_id").annotate(pool=Count("pk", filter=IN_POOL),
                                                  skipped=Count("pk", filter=SKIPPED_BY_EVERYONE))
                    .values_list("source_id", "pool", "skipped"))
    by_source, skipped = {}, 0
    for source_id, pool, skips in rows:
        skipped += skips
        if pool:
            by_source[source_id] = pool
    return by_source, skipped


def _copies(project) -> int:
    """The unanswered items, not excluded, whose duplicate group holds an answered item: the
    overview's count of them (``selectors.COPY_OF_ANSWERED``), out of the pool."""
    return copies_of_answered(project).filter(excluded=False).count()


def _coverage(sources: dict, pool: tuple[dict, int], rows: list[tuple], mine: list[tuple],
              copies: int = 0) -> dict | None:
    """Which sources the estimate's answered picks (``rows``) come from, of the drawn picks
    (``mine``), against the unlabeled items in the pool per source and the items skipped by
    everyone (``pool``: ``_unlabeled_by_source``) and the copies of answered items (``copies``:
    ``_copies``); ``sources``: id → (name, quota). None when nothing is estimated."""
    unlabeled, skipped = pool
    if not rows:
        return None
    answered, drawn = defaultdict(set), Counter(p[3] for p, _ in mine)
    for p, _ in rows:
        answered[p[3]].add(p[0])
    waves = sorted({p[0] for p, _ in rows})
    # the planner gives a source without a quota nothing once the other quotas add up to 1 (learner.planning.quotas)
    quotas_full = sum(max(0.0, quota) for _, quota in sources.values()) >= 1.0 - QUOTA_TOLERANCE  # as the planner

    def name(source_id) -> str:
        return sources[source_id][0] if source_id in sources else "(no source)"

    covered = sorted(answered, key=name)
    items, total = sum(unlabeled.get(s, 0) for s in covered), sum(unlabeled.values())
    text = [f"The figures cover source{'s' * (len(covered) > 1)} {', '.join(map(name, covered))} ({items} of "
            f"{total} unlabeled items)"]
    partial = [{"source": name(s), "waves": sorted(answered[s])} for s in covered if len(answered[s]) < len(waves)]
    text += [f"{p['source']} only in wave{'s' * (len(p['waves']) > 1)} {', '.join(map(str, p['waves']))} of "
             f"{', '.join(map(str, waves))}: nothing here speaks for its items in the others" for p in partial]
    left_out = []
    for source_id, n in sorted(unlabeled.items(), key=lambda row: name(row[0])):
        if source_id in answered or not n:
            continue
        quota = sources[source_id][1] if source_id in sources else None
        if drawn[source_id]:
            reason = f"has {drawn[source_id]} drawn pick{'s' * (drawn[source_id] > 1)}, none answered (in the estimate) yet"
        elif quota is not None and quota <= 0 and quotas_full:
            reason = "(quota 0) is never drawn"
        else:
            reason = "had no pick drawn in these waves"
        left_out.append({"source": name(source_id), "items": n, "quota": quota, "reason": reason})
        text.append(f"{name(source_id)} {reason}, so nothing here speaks for its {n} unlabeled items")
    if skipped:  # out of the pool, so neither covered nor left out above: said here, not dropped unexplained
        text.append(f"{skipped} item{'s' * (skipped > 1)} skipped by everyone {'are' if skipped > 1 else 'is'} "
                    "not in the pool (the planner never draws an answered item again)")
    if copies:  # out of the pool as well: π = 0, the planner takes nothing from a group with an answered item
        text.append(f"{copies} unanswered cop{'ies' if copies > 1 else 'y'} of answered items "
                    f"{'are' if copies > 1 else 'is'} not in the pool (the planner takes no item of a duplicate "
                    "group that holds an answered one)")
    return {"sources": [name(s) for s in covered], "items": items, "pool_items": total, "skipped_items": skipped,
            "copies_items": copies, "partial": partial, "left_out": left_out, "summary": "; ".join(text)}


def version_estimates(project, versions: list[ModelVersion] | None = None) -> dict[int, dict]:
    """{version number: estimates} for every given version (default: the project's ready,
    active and retired ones). Each: ``labels`` (per label: prevalence, precision, recall with
    ``*_ci`` and ``*_range``, n, n_predicted, reasons), ``macro_f1_estimate``, ``macro_f1_ci``,
    ``macro_f1_labels`` and ``sample`` (items, picks, drawn, the STATES' counts, unscored,
    waves, summary, reason, coverage: ``_coverage``)."""
    if versions is None:
        versions = list(ModelVersion.objects.filter(
            project=project, state__in=[ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED])
            .defer("artifact").order_by("number"))
    picks = _sample(project)
    resolved = resolve_item_labels(project) if picks else {}
    states = _pick_states(project, picks, resolved)
    names = dict(Label.objects.filter(project=project).values_list("id", "name"))
    sources = {pk: (name, float(quota)) for pk, name, quota in Source.objects.filter(project=project)
               .values_list("id", "name", "quota")}
    unlabeled = _unlabeled_by_source(project) if picks else ({}, 0)
    copies = _copies(project) if picks else 0
    out = {}
    for version in versions:
        mine = [(p, s) for p, s in zip(picks, states, strict=True) if p[1] >= version.number]
        # each class by its label's name now (the names the truth is read in): a label renamed since
        # the version trained is still the class it learned
        columns = model_labels(version, names)
        classes = [columns.shown(name) for name in columns.trained]
        # what the version emits for each pick (a coarse → fine model's coarse label where it falls back),
        # by the label's name now: the figures are of the label users are given, not the flat argmax
        # A fallback (the stored flag) is None: no prediction of any class, the class of the coarse
        # label's name included, as the held-out thresholds judge it (their emitted column is -1 there).
        emitted = {item_id: None if e.fallback else columns.shown(e.label) for item_id, e in
                   emitted_scores(version, {p[2] for p, _ in mine}).items()}
        scored = [(p, s) for p, s in mine if p[2] in emitted]
        # An item drawn in two waves (unanswered in the first, answered when drawn again) is in
        # both waves' samples: each wave is its own probability sample of its own eligible pool
        # and the label does not depend on when it was given. design_estimates counts it once
        # (units) and does not let the repeat narrow an interval.
        rows = [(p, s) for p, s in scored if s in ("answered", "disputed")]
        y_true = [names[resolved[p[2]]] for p, _ in rows]
        # A fallback is none of the classes' predictions (None): a miss for the item's label and no
        # label's false positive; it gets no row of its own, which exact matching against fine answers
        # would count as wrong. So is a label outside the classes.
        y_pred = [emitted[p[2]] if emitted[p[2]] in classes else None for p, _ in rows]
        everyone = list(dict.fromkeys([*classes, *sorted(set(y_true) - set(classes))]))
        failure = None
        try:
            full = design_estimates(y_true, y_pred, [p[4] for p, _ in rows], classes=everyone,
                                    strata=[f"{p[0]}|{p[3]}" for p, _ in rows] or None, min_n=MIN_N,
                                    units=[p[2] for p, _ in rows])
        except ValueError as exc:  # e.g. a label named like a key of the estimates object
            full, everyone, failure = design_estimates([], [], [], classes=[], min_n=MIN_N), [], f"not estimated: {exc}"
        settled = [(1 / p[4], y, yhat) for (p, s), y, yhat in zip(rows, y_true, y_pred, strict=True)
                   if s == "answered"]
        ranges = {} if failure else _ranges({label: full[label] for label in everyone}, settled,
                                            [(1 / p[4], emitted[p[2]]) for p, s in scored if s != "answered"])
        counts = {s: sum(1 for _, state in mine if state == s) for s in STATES}
        counts["unscored"] = sum(1 for p, s in mine if s in ("answered", "disputed")) - len(rows)
        items = len({p[2] for p, _ in rows})
        out[version.number] = {
            "labels": [{"label": label, **{k: full[label][k] for k in (
                "prevalence", "prevalence_ci", "precision", "precision_ci", "recall", "recall_ci", "f1", "f1_ci",
                "n", "n_predicted", "reasons")},
                **{f"{f}_range": (ranges.get(label) or {}).get(f) for f in FIGURES}} for label in everyone],
            "macro_f1_estimate": full["macro_f1_estimate"], "macro_f1_ci": full["macro_f1_ci"],
            "macro_f1_labels": full["macro_f1_labels"],
            "sample": {"items": items, "picks": len(rows), "drawn": len(mine), **counts,
                       "waves": sorted({p[0] for p, _ in rows}), "summary": _summary(counts, items, len(rows)),
                       "coverage": _coverage(sources, unlabeled, rows, mine, copies),
                       "reason": failure or (None if rows else
                           "no answered pick with a known inclusion probability from a wave planned after "
                           f"model v{version.number} yet")},
        }
    return out
