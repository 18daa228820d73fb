"""Reads about waves: the current one, completion, composition, the budget and what a plan may not
draw (``off_limits_parts``)."""
from __future__ import annotations

import math
from collections import Counter

from django.conf import settings
from django.db import connection
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.items.models import Item

from .models import Wave, WaveItem


def current_wave(project) -> Wave | None:
    """The project's open wave (annotators work on it), or None."""
    return Wave.objects.filter(project=project, state=Wave.OPEN).order_by("-number").first()


def working_wave(project) -> Wave | None:
    """The wave a lead works on: the open one, else the newest planned one (waiting to be
    opened), else None."""
    return current_wave(project) or (
        Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first())


# When an answer counts for a pick: one definition, read by the loop (``wave_is_complete``,
# ``pick_is_complete``: a complete wave closes and retrains), the pages (``wave_progress``) and the
# budget (``labels_outstanding``). An answer counts for the pick that was its item's latest pick when
# it was given: a live answer (skips count, undone answers do not) given from the pick's wave's
# planning on and before a later wave picked the item again; a lead's live adjudication in that
# window completes the pick whatever answers it got (the lead's label decides the item:
# ``labeling.annotations.resolve``). Why not "every answer the item has": so each answer counts
# for one wave only, the one it was given in, which is what a lead reads off a wave's progress. An
# answer the item had before the wave picked it (a wave-1 answer on an item a later wave picks
# again, an answer given or imported before the planning) would otherwise show the pick done on the
# page of both waves and close the new wave before its annotators, who are still handed the pick
# (leasing counts slots), answered it. A pick whose slots are all answered is complete without
# counting: each done or skipped assignment holds one live answer given in that window.
_COUNTED = """a.item_id = wi.item_id AND NOT a.undone AND a.created_at >= w.created_at
              AND NOT EXISTS (SELECT 1 FROM {picks} later JOIN {waves} lw ON lw.id = later.wave_id
                               WHERE later.item_id = wi.item_id AND lw.number > w.number
                                 AND lw.created_at <= a.created_at)"""
# Written out: the completeness check runs after nearly every answer (each answer that completes
# its pick), where composing it with the ORM cost several times what the database spends on it.
_PICKS_SQL = """
SELECT p.id, p.overlap, p.answers, (p.adjudicated OR p.answers >= p.overlap) AS complete
  FROM (SELECT wi.id, wi.overlap,
               CASE WHEN wi.slots_done >= wi.overlap THEN wi.overlap
                    ELSE (SELECT count(*) FROM {answers} a WHERE {counted}) END AS answers,
               CASE WHEN wi.slots_done >= wi.overlap THEN FALSE
                    ELSE EXISTS (SELECT 1 FROM {answers} a WHERE {counted} AND a.origin = %s
                                                             AND a.label_id IS NOT NULL) END AS adjudicated
          FROM {picks} wi JOIN {waves} w ON w.id = wi.wave_id
         WHERE wi.wave_id IN ({wave_ids}) {only_pick} {fence}) p
"""
_TABLES = {"picks": WaveItem._meta.db_table, "waves": Wave._meta.db_table, "answers": Annotation._meta.db_table}


def _picks_sql(wave_ids: list[int], pick_id: int | None = None, *,
               open_in_project: int | None = None) -> tuple[str, list]:
    """(sql, params) of the picks of these waves (or the one pick; or, ``open_in_project``, of that
    project's open waves), each as (id, overlap, answers that count for it (capped at its overlap
    once its slots are all answered), complete)."""
    # OFFSET 0 keeps the inner query a subquery on PostgreSQL: inlined, it computed each pick's count
    # twice (for ``answers`` and for ``complete``). SQLite takes no OFFSET without LIMIT, nor needs it.
    fence = "OFFSET 0" if connection.vendor == "postgresql" else ""
    if open_in_project is not None:
        waves, wave_params = "SELECT id FROM {waves} WHERE project_id = %s AND state = %s".format(**_TABLES), [
            open_in_project, Wave.OPEN]
    else:
        waves, wave_params = ", ".join(["%s"] * len(wave_ids)), list(wave_ids)
    sql = _PICKS_SQL.format(counted=_COUNTED.format(**_TABLES), wave_ids=waves,
                            only_pick="AND wi.id = %s" if pick_id is not None else "", fence=fence, **_TABLES)
    return sql, [Annotation.ADJUDICATION, *wave_params, *([pick_id] if pick_id is not None else [])]


def _pick_rows(wave_ids: list[int], pick_id: int | None = None) -> list[tuple[int, int, int, bool]]:
    if not wave_ids:
        return []
    sql, params = _picks_sql(wave_ids, pick_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(pk, overlap, answers, bool(complete)) for pk, overlap, answers, complete in cursor.fetchall()]


def wave_is_complete(wave: Wave) -> bool:
    """Every pick is complete (see ``_COUNTED``), and the wave has picks. Stops at the first pick
    short of answers; a pick whose slots are all answered costs no count."""
    picks, params = _picks_sql([wave.pk])
    sql = (f"SELECT NOT EXISTS (SELECT 1 FROM ({picks}) q WHERE NOT q.complete), "
           f"EXISTS (SELECT 1 FROM {WaveItem._meta.db_table} WHERE wave_id = %s)")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, wave.pk])
        none_short, has_picks = cursor.fetchone()
    return bool(none_short and has_picks)


def live_leases(wave: Wave) -> int:
    """Unexpired, unanswered leases on the wave's items."""
    return Assignment.objects.filter(wave_item__wave=wave, state=Assignment.LEASED,
                                     expires_at__gt=timezone.now()).count()


def close_note(wave: Wave) -> str:
    """What closing did to the wave's live leases, for the close page and API."""
    n = getattr(wave, "live_leases", None)
    if n is None:
        n = live_leases(wave)
    if not n:
        return "No item was leased."
    # Rounded up: a lease of 90 s is "at most 2 min", never 1. Renewals keep to it (annotations.lease_bounds).
    minutes = max(1, math.ceil(settings.LONGTAIL_LEASE_SECONDS / 60))
    return (f"{n} item{'s are' if n != 1 else ' is'} still leased: annotators can answer "
            f"{'them' if n != 1 else 'it'} until the lease expires (at most {minutes} min) and those answers "
            "count; the next wave leaves leased items out, and an item whose lease expires unanswered goes "
            "back to the pool.")


def planning_notes(report: dict) -> list[str]:
    """What planning a wave could not do in full, from its report, for the lead: fewer items than
    asked for (report["short_of_requested"]), fewer answers than the overlap (report["overlap_limited"]),
    and rule matching that stopped after its time budget (labeling.waves.pool.planner_snapshot), so
    that a cold start with few or no rule picks says its rules were not checked on the whole pool
    rather than matched nothing."""
    report = report or {}
    notes = []
    if short := report.get("short_of_requested"):
        notes.append(f"planned with {short}")
    if limited := report.get("overlap_limited"):
        notes.append(f"fewer answers than the overlap asked: {limited}")
    if partial := (report.get("timings") or {}).get("rules_partial"):
        notes.append(partial)
    return notes


def planning_sentences(report: dict) -> str:
    """``planning_notes`` as sentences after a plan's message ("Wave 2 planned (8 items) ...")."""
    said = [note[:1].upper() + note[1:] for note in planning_notes(report)]
    return "".join(f" {note}{'' if note.endswith('.') else '.'}" for note in said)


def pick_is_complete(wave_item: WaveItem) -> bool:
    """The pick has the answers it needs, counted as ``wave_is_complete`` counts them."""
    rows = _pick_rows([wave_item.wave_id], wave_item.pk)
    return bool(rows) and rows[0][3]


def wave_progress(wave: Wave) -> dict:
    """{items, complete_items, answers_needed, answers_given} for progress bars: the picks as
    ``wave_is_complete`` counts them (see ``_COUNTED``); a complete pick has all its answers
    given (an adjudicated one too)."""
    picks = _pick_rows([wave.pk])
    given = [overlap if complete else min(overlap, answers) for _, overlap, answers, complete in picks]
    return {
        "items": len(picks),
        "complete_items": sum(1 for *_, complete in picks if complete),
        "answers_needed": sum(overlap for _, overlap, _, _ in picks),
        "answers_given": sum(given),
    }


def open_waves_progress(project) -> dict | None:
    """The annotators' view of the project's open waves (the batches/ reply, the annotate page's
    "Wave" bar): {waves, needed, done, leased}: answers needed (sum of overlaps), answers given as
    ``wave_progress`` counts them (``answers_given``: an adjudicated pick is done), and slots leased
    and not answered yet. None when no wave is open. One query: it runs on every batch lease."""
    picks, params = _picks_sql([], open_in_project=project.pk)
    sql = (f"SELECT w.number, SUM(q.overlap), "
           f"SUM(CASE WHEN q.complete OR q.answers > q.overlap THEN q.overlap ELSE q.answers END), "
           f"SUM(wi.slots_taken - wi.slots_done) "
           f"FROM ({picks}) q JOIN {_TABLES['picks']} wi ON wi.id = q.id JOIN {_TABLES['waves']} w ON w.id = wi.wave_id "
           f"GROUP BY w.number ORDER BY w.number")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    return {"waves": [r[0] for r in rows], "needed": sum(int(r[1]) for r in rows),
            "done": sum(int(r[2]) for r in rows), "leased": sum(int(r[3]) for r in rows)}


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


def labels_used(project) -> int:
    """Labels spent against the budget: annotators' non-undone, non-skipped answers."""
    return Annotation.objects.filter(
        project=project, undone=False, skipped=False, origin=Annotation.ANNOTATOR
    ).count()


def labels_outstanding(project) -> int:
    """Answers still expected from waves that are planned or open (they are committed budget),
    each pick's answers counted as ``wave_is_complete`` counts them."""
    wave_ids = list(Wave.objects.filter(project=project, state__in=[Wave.PLANNED, Wave.OPEN])
                    .values_list("pk", flat=True))
    return sum(0 if complete else max(0, overlap - answers) for _, overlap, answers, complete in _pick_rows(wave_ids))


def budget_status(project) -> dict:
    """The label budget as the planner reads it: {budget, used, committed, free, left, spent}.

    - used: annotators' answers given (``labels_used``);
    - committed: answers still owed to planned or open waves (``labels_outstanding``);
    - free: what a new wave may still ask, budget − used − committed, never negative: the figure
      ``labeling.waves.budget.answers_left`` plans with (it reads this, so the pages and the planner
      cannot disagree);
    - left: answers not given yet, budget − used (the committed ones included);
    - spent: nothing is free, so no wave can be planned (all given, or the rest committed).
    budget None means unlimited: committed, free and left None, never spent."""
    used = labels_used(project)
    budget = project.label_budget
    if budget is None:
        return {"budget": None, "used": used, "committed": None, "free": None, "left": None, "spent": False}
    committed = labels_outstanding(project)
    free = max(0, budget - used - committed)
    return {"budget": budget, "used": used, "committed": committed, "free": free, "left": max(0, budget - used),
            "spent": free <= 0}



def leased_items(project):
    """Items someone holds a live lease on, in any wave (a closed wave's leases stay answerable
    until they expire): a values queryset of item ids."""
    return (Assignment.objects.filter(wave_item__wave__project=project, state=Assignment.LEASED,
                                      expires_at__gt=timezone.now())
            .values("wave_item__item_id"))


def pinned_items(project) -> list[int]:
    """Items a lead pinned for the next wave that can still be asked: not excluded, never
    answered, under no live lease, not in an unfinished wave."""
    busy = Annotation.objects.filter(project=project, undone=False).values("item_id")
    in_wave = WaveItem.objects.filter(wave__project=project, wave__state__in=[Wave.PLANNED, Wave.OPEN]).values("item_id")
    return list(Item.objects.filter(project=project, pinned_for_next_wave=True, excluded=False)
                .exclude(id__in=busy).exclude(id__in=in_wave).exclude(id__in=leased_items(project))
                .order_by("id").values_list("id", flat=True))


def off_limits_parts(project) -> dict:
    """Why items may not be planned, each reason's item ids (an item can have several): answered
    (even skipped, or undone and answered again), leased (a live lease), excluded (by a lead),
    pinned (planned by the lead, not by the planner), in_waves ({(number, state): ids} of the
    planned and open waves). The one definition: the planner's (``off_limits_items``) and the
    message of an empty plan (``why_nothing_to_plan``)."""
    in_waves: dict[tuple[int, str], set[int]] = {}
    for number, state, item_id in (WaveItem.objects.filter(wave__project=project,
                                                           wave__state__in=[Wave.PLANNED, Wave.OPEN])
                                   .values_list("wave__number", "wave__state", "item_id")):
        in_waves.setdefault((number, state), set()).add(item_id)
    return {
        "answered": set(Annotation.objects.filter(project=project, undone=False).values_list("item_id", flat=True)),
        "leased": set(leased_items(project).values_list("wave_item__item_id", flat=True)),
        "excluded": set(Item.objects.filter(project=project, excluded=True).values_list("id", flat=True)),
        "pinned": set(pinned_items(project)),
        "in_waves": in_waves,
    }


def off_limits_items(project, parts: dict | None = None) -> set[int]:
    """Items never to plan: every item of ``off_limits_parts`` (read here unless given)."""
    parts = off_limits_parts(project) if parts is None else parts
    return (parts["answered"] | parts["leased"] | parts["excluded"] | parts["pinned"]
            | set().union(*parts["in_waves"].values()))


def why_nothing_to_plan(project) -> str:
    """The real reason a plan came out empty, from what the planner leaves out (``off_limits_parts``):
    what is answered, leased, excluded, pinned, in which unfinished wave, and what waits only as a
    duplicate of a labeled item."""
    total = Item.objects.filter(project=project).count()
    if total == 0:
        return f"Project {project.slug!r} has no items yet: import some on the import page first."
    parts = off_limits_parts(project)
    in_waves = parts["in_waves"]
    waiting = total - len(off_limits_items(project, parts))
    in_a_wave = set().union(*in_waves.values())
    # Leases in a closed wave only: an open wave's leased items are counted as in that wave.
    leased = parts["leased"] - parts["answered"] - in_a_wave
    texts = [f"{len(parts['answered'])} answered"]
    texts += [f"{len(ids)} in wave {number} ({state})" for (number, state), ids in sorted(in_waves.items())]
    if leased:
        texts.append(f"{len(leased)} still leased in a closed wave (answerable until the lease "
                     "expires)")
    if parts["pinned"]:
        texts.append(f"{len(parts['pinned'])} pinned for the next wave")
    texts.append(f"{len(parts['excluded'])} excluded by a lead")
    text = f"Nothing to plan in {project.slug!r}: of {total} items, " + ", ".join(texts) + "."
    if waiting > 0:
        return (text + f" The other {waiting} are exact or near duplicates of answered or picked items; "
                "the planner takes one item per duplicate group.")
    if in_waves:
        return text + " No item is left to plan until a wave is closed (its unanswered items return to the pool)."
    if leased:
        return text + (" No item is left to plan until a lease expires unanswered (its item returns to the "
                       "pool) or more items are imported.")
    return text + " No item is left to plan: import more items."
