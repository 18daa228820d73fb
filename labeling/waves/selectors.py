"""Reads about waves: the current one, completion, composition, label counts and the budget."""
from __future__ import annotations

from collections import Counter

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.annotations.selectors import resolve_item_labels
from labeling.items.models import Item
from labeling.projects.models import Label

from .models import Wave, WaveItem


def current_wave(project) -> Wave | None:
    """The project's open wave (annotators work on it), or None."""
    return Wave.objects.filter(project=project, state=Wave.OPEN).order_by("-number").first()


def working_wave(project) -> Wave | None:
    """The wave a lead works on: the open one, else the newest planned one (waiting to be
    opened), else None."""
    return current_wave(project) or (
        Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first())


def latest_wave(project) -> Wave | None:
    return Wave.objects.filter(project=project).order_by("-number").first()


def _answers_per_pick(wave: Wave):
    """The wave's picks, each with ``answers``: the live answers (skips count, undone answers do
    not) its item got while this pick was the item's latest: given after the wave was planned and
    before any later wave picked the item again. So a wave-1 pick left unanswered and answered
    when wave 2 picked the item again does not count as answered in wave 1, while a lead's label
    from the item page during the wave does (as ``wave_is_complete`` counts it). ``adjudicated``:
    whether a lead's live adjudication falls in that window.

    An adjudication completes a pick, whatever answers it got: the lead's label decides the item
    (``labeling.annotations.resolve``), so the answers still missing could not change its label."""
    in_window = Annotation.objects.filter(item_id=OuterRef("item_id"), undone=False,
                                          created_at__gte=wave.created_at).exclude(
        Exists(WaveItem.objects.filter(item_id=OuterRef(OuterRef("item_id")), wave__number__gt=wave.number,
                                       wave__created_at__lte=OuterRef("created_at"))))
    counted = in_window.order_by().values("item_id").annotate(n=Count("pk")).values("n")
    return wave.picks.annotate(
        answers=Coalesce(Subquery(counted, output_field=IntegerField()), 0),
        adjudicated=Exists(in_window.filter(origin=Annotation.ADJUDICATION, label__isnull=False)),
    )


# One statement, written out: it runs after nearly every answer (each answer that completes its
# pick), where composing it with the ORM cost several times what PostgreSQL spends on it. A pick
# whose slots_done reaches its overlap is complete (each done or skipped assignment holds a live
# answer); only the others have their live answers counted, by the (item, undone) index.
_WAVE_COMPLETE_SQL = """
SELECT NOT EXISTS (
         SELECT 1 FROM {picks} wi
          WHERE wi.wave_id = %s AND wi.slots_done < wi.overlap
            AND (SELECT count(*) FROM {answers} a WHERE a.item_id = wi.item_id AND NOT a.undone) < wi.overlap),
       EXISTS (SELECT 1 FROM {picks} WHERE wave_id = %s)
"""


def wave_is_complete(wave: Wave) -> bool:
    """Every WaveItem has at least ``overlap`` non-undone answers (skips included), and the wave
    has picks. Costs little however full the wave is."""
    sql = _WAVE_COMPLETE_SQL.format(picks=WaveItem._meta.db_table, answers=Annotation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [wave.pk, wave.pk])
        none_short, has_picks = cursor.fetchone()
    return bool(none_short and has_picks)


def live_leases(wave: Wave) -> int:
    """Unexpired, unanswered leases on the wave's items."""
    return Assignment.objects.filter(wave_item__wave=wave, state=Assignment.LEASED,
                                     expires_at__gt=timezone.now()).count()


def pick_is_complete(wave_item: WaveItem) -> bool:
    answers = Annotation.objects.filter(item_id=wave_item.item_id, undone=False).count()
    return answers >= wave_item.overlap


def wave_progress(wave: Wave) -> dict:
    """{items, complete_items, answers_needed, answers_given} for progress bars, counting each
    pick's own answers; an adjudicated pick counts as complete with all its answers given (see
    ``_answers_per_pick``)."""
    picks = list(_answers_per_pick(wave).values_list("overlap", "answers", "adjudicated"))
    given = [overlap if adjudicated else min(overlap, answers) for overlap, answers, adjudicated in picks]
    return {
        "items": len(picks),
        "complete_items": sum(1 for (overlap, _, _), done in zip(picks, given, strict=True) if done >= overlap),
        "answers_needed": sum(overlap for overlap, _, _ in picks),
        "answers_given": sum(given),
    }


def wave_composition(wave: Wave) -> dict:
    """Counts by source × strategy × predicted label, plus each margin."""
    rows = wave.picks.values_list("item__source__name", "strategy", "predicted_label__name", "likely_rare")
    cells: Counter = Counter()
    by_source: Counter = Counter()
    by_strategy: Counter = Counter()
    by_label: Counter = Counter()
    likely_rare = 0
    for source, strategy, label, rare in rows:
        source = source or ""
        cells[(source, strategy, label)] += 1
        by_source[source] += 1
        by_strategy[strategy] += 1
        by_label[label or ""] += 1
        likely_rare += bool(rare)
    return {
        "size": sum(cells.values()),
        "likely_rare": likely_rare,
        "by_source": dict(by_source),
        "by_strategy": dict(by_strategy),
        "by_predicted_label": dict(by_label),
        "cells": [
            {"source": s, "strategy": k, "predicted_label": lab, "count": n}
            for (s, k, lab), n in sorted(cells.items(), key=lambda c: (c[0][0], c[0][1], c[0][2] or ""))
        ],
    }


def composition_rows(wave: Wave) -> list[dict]:
    """source × strategy × predicted label counts of the wave's picks, "—" for a missing name."""
    return [{**cell, "source": cell["source"] or "—", "predicted_label": cell["predicted_label"] or "—"}
            for cell in wave_composition(wave)["cells"]]


def labeled_counts(project) -> dict[str, int]:
    """Label name → items whose resolved label it is, every label listed."""
    counts = Counter(resolve_item_labels(project).values())
    return {
        name: counts.get(label_id, 0)
        for label_id, name in Label.objects.filter(project=project).order_by("order", "name").values_list("id", "name")
    }


def labels_used(project) -> int:
    """Labels spent against the budget: annotators' non-undone, non-skipped answers."""
    return Annotation.objects.filter(
        project=project, undone=False, skipped=False, origin=Annotation.ANNOTATOR
    ).count()


def labels_outstanding(project) -> int:
    """Answers still expected from waves that are planned or open (they are committed budget)."""
    picks = WaveItem.objects.filter(wave__project=project, wave__state__in=[Wave.PLANNED, Wave.OPEN]).annotate(
        answers=Count("item__annotations", filter=Q(item__annotations__undone=False), distinct=True)
    )
    total = picks.aggregate(need=Sum("overlap"))["need"] or 0
    given = sum(min(overlap, answers) for overlap, answers in picks.values_list("overlap", "answers"))
    return max(0, total - given)


def budget_status(project) -> dict:
    """{budget, used, left, spent}: budget None means unlimited (never spent)."""
    used = labels_used(project)
    budget = project.label_budget
    if budget is None:
        return {"budget": None, "used": used, "left": None, "spent": False}
    left = max(0, budget - used)
    return {"budget": budget, "used": used, "left": left, "spent": left <= 0}



def why_nothing_to_plan(project) -> str:
    """The real reason a plan came out empty, from the pool's counts: what is answered, excluded,
    in which unfinished wave, and what waits only as a duplicate of a labeled item."""
    items = Item.objects.filter(project=project)
    total = items.count()
    if total == 0:
        return f"Project {project.slug!r} has no items yet: import some on the import page first."
    answered = set(Annotation.objects.filter(project=project, undone=False).values_list("item_id", flat=True))
    excluded = set(items.filter(excluded=True).values_list("id", flat=True))
    in_waves: dict[int, set[int]] = {}
    for number, state, item_id in (WaveItem.objects.filter(wave__project=project,
                                                           wave__state__in=[Wave.PLANNED, Wave.OPEN])
                                   .values_list("wave__number", "wave__state", "item_id")):
        in_waves.setdefault((number, state), set()).add(item_id)
    busy = answered | excluded | set().union(*in_waves.values())
    waiting = total - len(busy)
    parts = [f"{len(answered)} answered"]
    parts += [f"{len(ids)} in wave {number} ({state})" for (number, state), ids in sorted(in_waves.items())]
    parts.append(f"{len(excluded)} excluded by a lead")
    text = f"Nothing to plan in {project.slug!r}: of {total} items, " + ", ".join(parts) + "."
    if waiting > 0:
        return (text + f" The other {waiting} are exact or near duplicates of answered or picked items; "
                "the planner takes one item per duplicate group.")
    if in_waves:
        return text + " No item is left to plan until a wave is closed (its unanswered items return to the pool)."
    return text + " No item is left to plan: import more items."
