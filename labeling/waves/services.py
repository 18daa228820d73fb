"""Write paths for waves: plan the next wave (with the active model's scores, or cold start),
cut it into minority-aware annotator batches, open and close it.

The planning itself is learner.planner (pure); this module builds its snapshot from the database
and persists the result. See docs/loop.md.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Project, Rule
from labeling.projects.rules import compile_rule

from . import selectors
from .models import Wave, WaveItem
from .selectors import budget_status, current_wave, labeled_counts, wave_composition  # noqa: F401 - re-exported

log = logging.getLogger(__name__)


class NothingToPlan(ValueError):
    """No wave can be planned; the message says why."""


class BudgetSpent(NothingToPlan):
    """The project's label budget is used up (or fully committed to open waves)."""


class PoolExhausted(NothingToPlan):
    """Every item is labeled or already in an unfinished wave."""


def _wave_items_for_budget(project: Project, requested: int) -> int:
    """Shrink the requested wave so its answers fit what is left of the label budget."""
    status = budget_status(project)
    if status["budget"] is None:
        return requested
    left = status["left"] - selectors.labels_outstanding(project)
    if left <= 0:
        raise BudgetSpent(
            f"The label budget of {status['budget']} is spent: {status['used']} labels given"
            + (", the rest is committed to unfinished waves." if status["left"] > 0 else ".")
        )
    extra = max(0, project.overlap - 1) * project.double_label_share
    n = min(requested, int(math.floor(left / (1.0 + extra) + 1e-9)))
    # Rounding of the double-labeled count can push one over: step down until it fits.
    while n > 0 and n + _double_count(project, n) * max(0, project.overlap - 1) > left:
        n -= 1
    if n <= 0:
        n = 1 if left >= 1 else 0
    return n


def _double_count(project: Project, n: int) -> int:
    if project.overlap <= 1 or project.double_label_share <= 0:
        return 0
    return min(n, int(round(project.double_label_share * n)))


def _snapshot(project: Project, version, timings: dict):
    """The planner's view of the pool: every item with an embedding, the active model's
    probabilities (None: cold start), what is labeled or taken, rule matches, label vectors."""
    from learner import services as learner
    from learner.cache import project_matrix
    from learner.planner import PoolSnapshot
    from learner.selectors import resolve_item_labels

    t = time.perf_counter()
    missing = learner.unembedded_item_ids(project)
    if missing:
        learner.embed_project(project)
    ids, embeddings = project_matrix(project.id, learner.model_id())
    timings["load_embeddings"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    # Duplicate groups: the importer's near-duplicate group, else exact duplicates (same text
    # hash) form one group, so a wave never asks for the same text twice.
    first_of_hash: dict[str, int] = {}
    meta = {}
    for item_id, source, group, h in (
        Item.objects.filter(project=project).order_by("id").values_list("id", "source__name", "dup_group", "text_hash")
    ):
        if group is None:
            group = first_of_hash.setdefault(h, item_id)
        meta[item_id] = (source or "", group)
    sources = np.array([meta[i][0] for i in ids.tolist()], dtype=object)
    groups = np.array([meta[i][1] for i in ids.tolist()], dtype=np.int64)
    # Off limits: anything answered (even skipped or undone-then-reanswered), excluded, or in an unfinished wave.
    taken = set(Annotation.objects.filter(project=project, undone=False).values_list("item_id", flat=True))
    taken |= set(Item.objects.filter(project=project, excluded=True).values_list("id", flat=True))  # a lead's exclusion
    taken |= set(
        WaveItem.objects.filter(wave__project=project, wave__state__in=[Wave.PLANNED, Wave.OPEN]).values_list(
            "item_id", flat=True
        )
    )
    labeled = np.fromiter((i in taken for i in ids.tolist()), dtype=bool, count=len(ids))

    labels = list(Label.objects.filter(project=project).order_by("order", "name"))
    if version is not None:
        label_names = list(version.label_map)
    else:
        label_names = [label.name for label in labels]
    index = {name: k for k, name in enumerate(label_names)}
    name_by_id = {label.id: label.name for label in labels}
    resolved = resolve_item_labels(project)
    row_of = {item_id: row for row, item_id in enumerate(ids.tolist())}
    labeled_y = np.full(len(ids), -1, dtype=np.int64)
    for item_id, label_id in resolved.items():
        row = row_of.get(item_id)
        k = index.get(name_by_id.get(label_id))
        if row is not None and k is not None:
            labeled_y[row] = k
    timings["load_pool"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    proba = None
    if version is not None:
        proba = _pool_proba(version, ids, embeddings)
    timings["load_scores"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    rule_rows = _rule_rows(project, ids, index)
    by_name = {label.name: label for label in labels}
    label_texts = [f"{name}: {by_name[name].description}" if name in by_name and by_name[name].description else name
                   for name in label_names]
    label_vectors = learner.embed_query_texts(label_texts) if label_texts and len(ids) else None
    timings["rules_and_label_vectors"] = round(time.perf_counter() - t, 3)
    snapshot = PoolSnapshot(
        item_ids=ids, label_names=label_names, labeled=labeled, sources=sources, dup_groups=groups,
        embeddings=embeddings if len(ids) else None, proba=proba, labeled_y=labeled_y, rule_rows=rule_rows,
        label_vectors=label_vectors,
    )
    return snapshot


def _pool_proba(version, ids: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Stored scores for the pool; items imported after scoring are scored here (not stored)."""
    from learner import services as learner

    scored_ids, scored = learner.scores_matrix(version)
    proba = np.zeros((len(ids), len(version.label_map)), dtype=np.float32)
    rows = np.searchsorted(scored_ids, ids)
    rows = np.clip(rows, 0, max(0, len(scored_ids) - 1))
    have = (len(scored_ids) > 0) & (scored_ids[rows] == ids) if len(scored_ids) else np.zeros(len(ids), bool)
    if have.any():
        proba[have] = scored[rows[have]]
    if (~have).any():
        proba[~have] = learner.load_classifier(version).predict_proba(embeddings[~have])
    return proba


def _rule_rows(project: Project, ids: np.ndarray, index: dict[str, int]) -> dict[int, np.ndarray]:
    rules = list(Rule.objects.filter(project=project, enabled=True).select_related("label"))
    rules = [r for r in rules if r.label.name in index]
    if not rules or not len(ids):
        return {}
    texts = dict(Item.objects.filter(project=project).values_list("id", "text"))
    matched: dict[int, list[int]] = {}
    for rule in rules:
        try:
            matcher = compile_rule(rule.kind, rule.pattern)
        except ValueError:
            log.warning("rule %s of %s does not compile; skipped", rule.pk, project.slug)
            continue
        rows = [row for row, item_id in enumerate(ids.tolist()) if matcher.search(texts[item_id])]
        matched.setdefault(index[rule.label.name], []).extend(rows)
    return {k: np.unique(np.asarray(v, dtype=np.int64)) for k, v in matched.items() if v}


def plan_next_wave(project: Project, *, size: int | None = None) -> Wave:
    """Plan and store the project's next wave (state PLANNED) synchronously.

    Uses the active model's stored scores, or cold start (rules, label names, diversity) when
    the project has no active model. The wave shrinks to the label budget that is left; raises
    BudgetSpent when nothing is left and PoolExhausted when no item is eligible.
    """
    from learner import services as learner
    from learner.planner import PlannerConfig, plan_wave

    timings: dict[str, float] = {}
    requested = int(size or project.wave_size)
    n = _wave_items_for_budget(project, requested)
    version = learner.active_model(project)
    snapshot = _snapshot(project, version, timings)
    number = (Wave.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    seed = project.id * 100_003 + number
    config = PlannerConfig(
        wave_size=n,
        strategy_mix=dict(project.strategy_mix or {}) or PlannerConfig().strategy_mix,
        random_share=project.random_share,
        source_quotas={s.name: s.quota for s in project.sources.all()} or None,
        label_cap_share=project.label_cap_share,
        rare_threshold=project.rare_threshold,
        band=(project.band_low, project.band_high),
    )
    t = time.perf_counter()
    plan = plan_wave(snapshot, config, seed=seed)
    timings["plan"] = round(time.perf_counter() - t, 3)
    if not plan.picks:
        raise PoolExhausted(f"No item of {project.slug!r} is left to plan: every item is labeled or in a wave.")
    t = time.perf_counter()
    wave = _persist(project, plan, snapshot, version, requested=requested, seed=seed)
    timings["persist"] = round(time.perf_counter() - t, 3)
    wave.report = {**wave.report, "timings": timings}
    Wave.objects.filter(pk=wave.pk).update(report=wave.report)
    return wave


def _persist(project: Project, plan, snapshot, version, *, requested: int, seed: int) -> Wave:
    from learner.planner import cut_batches

    label_ids = dict(Label.objects.filter(project=project).values_list("name", "id"))
    batches = cut_batches(plan.picks, max(1, project.batch_size), seed=seed)
    rng = np.random.default_rng(seed + 1)
    n_double = _double_count(project, len(plan.picks))
    double_ids = {plan.picks[i].item_id for i in rng.choice(len(plan.picks), size=n_double, replace=False)}
    report = dict(plan.report)
    report.update({"wave_size_requested_by_project": requested, "double_labeled": n_double,
                   "batches": len(batches), "seed": seed})
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        number = (Wave.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
        wave = Wave.objects.create(
            project=project, number=number, state=Wave.PLANNED, cold_start=plan.cold_start,
            model_version=version, size=len(plan.picks), report=_jsonable(report),
        )
        rows = []
        for batch_number, batch in enumerate(batches):
            for position, pick in enumerate(batch):
                name = snapshot.label_names[pick.predicted_label] if pick.predicted_label is not None else None
                rows.append(WaveItem(
                    wave=wave, item_id=int(pick.item_id), strategy=pick.strategy, reason=pick.reason[:300],
                    inclusion_prob=float(pick.inclusion_prob), predicted_label_id=label_ids.get(name),
                    predicted_prob=pick.predicted_prob, likely_rare=pick.likely_rare,
                    overlap=project.overlap if pick.item_id in double_ids else 1,
                    batch_number=batch_number, position=position,
                ))
        WaveItem.objects.bulk_create(rows, batch_size=2000)
    return wave


def _jsonable(value):
    from learner.services import _jsonable as convert

    return convert(value)


def open_wave(wave: Wave) -> Wave:
    """Hand the wave to annotators. A project has one open wave at a time."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=wave.project_id).first()
        wave.refresh_from_db(fields=["state"])
        if wave.state == Wave.OPEN:
            return wave
        if wave.state != Wave.PLANNED:
            raise ValueError(f"Wave {wave.number} is {wave.state}; only a planned wave can be opened.")
        other = Wave.objects.filter(project_id=wave.project_id, state=Wave.OPEN).exclude(pk=wave.pk).first()
        if other is not None:
            raise ValueError(f"Wave {other.number} is still open; close it before opening wave {wave.number}.")
        Wave.objects.filter(pk=wave.pk).update(state=Wave.OPEN)
    wave.state = Wave.OPEN
    return wave


def close_wave(wave: Wave) -> Wave:
    """Close the wave; its unanswered items go back to the pool for later waves."""
    with transaction.atomic():
        updated = Wave.objects.filter(pk=wave.pk).exclude(state=Wave.CLOSED).update(
            state=Wave.CLOSED, closed_at=timezone.now()
        )
    if updated:
        wave.state = Wave.CLOSED
    wave.refresh_from_db(fields=["state", "closed_at"])
    return wave


def plan_and_open_if_idle(project: Project) -> Wave | None:
    """Plan and open the next wave when the project has no open wave (the loop's last step).
    Returns the new wave, or None when one is already open."""
    if current_wave(project) is not None:
        return None
    planned = Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first()
    wave = planned or plan_next_wave(project)
    return open_wave(wave)
