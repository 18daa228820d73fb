"""Write paths for waves: plan the next wave (with the active model's scores, or cold start),
cut it into minority-aware annotator batches, open and close it.

The planning itself is learner.planning (pure); labeling.waves.pool builds its input from the
database; this module persists the result. See docs/loop.md.
"""
from __future__ import annotations

import logging
import time

import numpy as np
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.items.analyze import analyze_tables
from labeling.items.models import Item
from labeling.modeling import review
from labeling.modeling.versions import active_model
from labeling.projects.locks import hold_labels
from labeling.projects.models import Project
from learner.jsonable import to_jsonable
from learner.planning import Pick, WavePlan, cut_batches, plan_wave

from . import budget, discard, pool, selectors
from .budget import BudgetSpent as BudgetSpent  # re-exported: callers catch it from here
from .budget import NothingToPlan
from .models import Wave, WaveItem
from .selectors import current_wave

log = logging.getLogger(__name__)


class PoolExhausted(NothingToPlan):
    """Every item is labeled or already in an unfinished wave."""


class WaveAlreadyPlanned(NothingToPlan):
    """A wave planned with the active model waits to be opened: a project keeps one planned wave."""


def plan_next_wave(project: Project, *, size: int | None = None) -> Wave:
    """Plan and store the project's next wave (state PLANNED) synchronously.

    Uses the active model's stored scores, or cold start (rules, label names, diversity) when
    the project has no active model. The wave shrinks to the label budget that is left; raises
    BudgetSpent when nothing is left and PoolExhausted when no item is eligible.

    One plan at a time per project: the snapshot and the stored wave are made under the project's
    row lock, so a concurrent plan waits and then sees this one's picks (never a wave cut short by
    another request). A project keeps one planned wave: a waiting plan made with the active model
    and the settings as they are refuses another (WaveAlreadyPlanned); a stale one (another model,
    changed settings) is discarded first (labeling.waves.discard), and the new wave's
    report["replaces"] says so. The project's labels are held too (hold_labels): a label deleted
    meanwhile waits for the plan, or is gone from it.
    """
    timings: dict[str, float] = {}
    _refuse_before_embedding(project, size)
    t = time.perf_counter()
    pool.embed_missing(project)  # the slow part that needs no lock: vectors for new items
    timings["embed_missing"] = round(time.perf_counter() - t, 3)
    with transaction.atomic():
        # Held to the commit: snapshot, picks and the stored wave see every other plan whole. The
        # settings as saved, not as the caller's copy holds them: a plan made under a stale copy
        # would be stale at once (labeling.waves.discard compares with the saved settings).
        project = Project.objects.select_for_update().get(pk=project.pk)
        requested = _requested_size(project, size)
        hold_labels(project)  # before the discard below writes picks a label's deletion updates too
        version = active_model(project)
        replaced = discard.discard_stale_plans(project, version)
        _refuse_second_plan(project)
        wave = _plan_locked(project, version, requested, timings)
        if replaced:
            wave.report = {**wave.report, "replaces": replaced}
            _reroute_review(version)
        planned_under = pool.plan_settings(project, cold=wave.cold_start)  # a change makes it stale (discard)
        wave.report = {**wave.report, "timings": timings, "planned_under": planned_under}
        Wave.objects.filter(pk=wave.pk).update(report=to_jsonable(wave.report))
    wave.replaced = replaced
    return wave


def _requested_size(project: Project, size: int | None) -> int:
    requested = int(size or project.wave_size)
    if requested < 1:
        # Settings refuse this now; a project saved before that check may still hold it.
        raise NothingToPlan(f"The wave size of {project.slug!r} is {requested}: set a wave size of at least 1 "
                            "on the settings page.")
    return requested


def _refuse_before_embedding(project: Project, size: int | None) -> None:
    """The refusals that need no vectors (wave size, budget, a waiting plan that is not stale),
    read without locks before the embedding: a request that is refused anyway must not first
    spend minutes embedding newly imported items. The same checks run again under the project's
    lock, which decides; this only refuses early what that would refuse."""
    project = Project.objects.get(pk=project.pk)  # the settings as saved, as the locked checks read them
    _requested_size(project, size)
    if Wave.objects.filter(project=project, state=Wave.PLANNED).exists():
        if discard.stale_plans(project, active_model(project)):
            return  # the locked path discards it first, which also gives back the budget its picks hold
        _refuse_second_plan(project)
    budget.answers_left(project)  # raises BudgetSpent


def _refuse_second_plan(project: Project) -> None:
    waiting = Wave.objects.filter(project=project, state=Wave.PLANNED).select_related("model_version").first()
    if waiting is None:
        return
    is_open = current_wave(project)
    when = (f"it opens when wave {is_open.number} is closed (Open wave {waiting.number} then)" if is_open
            else f"open it (Open wave {waiting.number})")
    raise WaveAlreadyPlanned(
        f"Wave {waiting.number} is already planned ({waiting.size} items, {discard.model_name(waiting)}, at "
        f"{timezone.localtime(waiting.created_at):%H:%M:%S}) and waits to be opened: {when}. A project keeps one "
        f"planned wave, so no other was planned; to plan afresh, close wave {waiting.number} first (a planned "
        "wave that is closed is discarded: it was never opened).")


def _plan_locked(project: Project, version, requested: int, timings: dict) -> Wave:
    left = budget.answers_left(project)
    n = budget.items_for_budget(project, requested, left)
    pinned = pool.pinned_items(project)[:n]
    snapshot = pool.planner_snapshot(project, version, timings)
    number = (Wave.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    seed = pool.wave_seed(project, number)
    config = pool.planner_config(project, n - len(pinned))
    config.wave_number = number  # equal quotas take the odd slot in turn (learner.planning.quotas)
    t = time.perf_counter()
    plan = plan_wave(snapshot, config, seed=seed) if n > len(pinned) else WavePlan([], {}, version is None)
    plan.picks = [Pick(row=-1, item_id=item_id, source="", strategy="pinned", reason="pinned for this wave by a lead",
                       predicted_label=None, predicted_prob=None, hint_label=None, likely_rare=False,
                       design={"no_pi": "pinned by a lead: not a probability draw"}) for item_id in pinned] + plan.picks
    plan.report["pinned"] = len(pinned)
    timings["plan"] = round(time.perf_counter() - t, 3)
    if not plan.picks:
        raise PoolExhausted(selectors.why_nothing_to_plan(project))
    t = time.perf_counter()
    wave = _persist(project, plan, snapshot, version, requested=requested, budget_fits=n, seed=seed, left=left)
    timings["persist"] = round(time.perf_counter() - t, 3)
    return wave


def _short_reasons(report: dict, requested: int, budget_fits: int, planned: int, dropped: int) -> list[str]:
    """Why a wave has fewer items than the project's wave size (the pool or the budget, never
    another request: plans are made one at a time)."""
    reasons = []
    if budget_fits < requested:
        reasons.append(f"the label budget left fits {budget_fits}")
    if planned < budget_fits:
        notes = [note for note in report.get("notes", []) if "eligible" in note or "ran dry" in note]
        reasons.append("the pool ran out: " + ("; ".join(notes) if notes else f"only {planned} items could be picked"))
    if dropped:
        reasons.append(f"{dropped} picked items were answered or leased while the wave was being planned")
    return reasons


def _persist(project: Project, plan, snapshot, version, *, requested: int, budget_fits: int, seed: int,
             left: int | None) -> Wave:
    """Store the plan. The caller holds the project's row lock (plan_next_wave), which also orders
    this with a late answer on a closed wave (annotations.services): whatever got an answer or a
    live lease since the snapshot is dropped, never asked twice. ``left``: the answers the label
    budget has left (None: no budget), which the picks' overlaps never exceed (labeling.waves.budget)."""
    predicted = {snapshot.label_names[p.predicted_label] for p in plan.picks if p.predicted_label is not None}
    # Held since the plan began (plan_next_wave); asking again also holds a label added since then.
    label_ids = hold_labels(project, predicted)
    report = dict(plan.report)
    if predicted - set(label_ids):  # renamed (or added and deleted) since the snapshot: no predicted label
        report["predicted_labels_gone"] = sorted(predicted - set(label_ids))
    planned = len(plan.picks)
    with transaction.atomic():
        gone = _busy_since_snapshot(project, [p.item_id for p in plan.picks])
        if gone:
            plan.picks = [p for p in plan.picks if p.item_id not in gone]
            report["dropped_since_snapshot"] = len(gone)
            if not plan.picks:
                raise PoolExhausted(selectors.why_nothing_to_plan(project))
        short = _short_reasons(report, requested, budget_fits, planned, len(gone))
        if short and len(plan.picks) < requested:
            report["short_of_requested"] = f"{len(plan.picks)} of the {requested} items asked for: " + "; ".join(short)
        batches = cut_batches(plan.picks, max(1, project.batch_size), seed=seed)
        rng = np.random.default_rng(seed + 1)
        drawn = [plan.picks[i].item_id for i in
                 rng.choice(len(plan.picks), size=budget.double_count(project, len(plan.picks)), replace=False)]
        overlaps = budget.double_overlaps(project, len(plan.picks), len(drawn), left)
        overlap_of = {item_id: value for item_id, value in zip(drawn, overlaps, strict=True) if value > 1}
        if note := budget.overlap_note(project, overlaps, left):
            report["overlap_limited"] = note
        report.update({"wave_size_requested_by_project": requested, "double_labeled": len(overlap_of),
                       "batches": len(batches), "seed": seed})
        number = (Wave.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
        wave = Wave.objects.create(
            project=project, number=number, state=Wave.PLANNED, cold_start=plan.cold_start,
            model_version=version, size=len(plan.picks), report=to_jsonable(report),
        )
        rows = []
        for batch_number, batch in enumerate(batches):
            for position, pick in enumerate(batch):
                name = snapshot.label_names[pick.predicted_label] if pick.predicted_label is not None else None
                rows.append(WaveItem(
                    wave=wave, item_id=int(pick.item_id), strategy=pick.strategy, reason=pick.reason[:300],
                    inclusion_prob=pick.inclusion_prob, design=to_jsonable(pick.design),
                    predicted_label_id=label_ids.get(name),
                    predicted_prob=pick.predicted_prob, likely_rare=pick.likely_rare,
                    overlap=overlap_of.get(pick.item_id, 1),
                    batch_number=batch_number, position=position,
                ))
        WaveItem.objects.bulk_create(rows, batch_size=2000)
        Item.objects.filter(id__in=[p.item_id for p in plan.picks if p.strategy == "pinned"]).update(
            pinned_for_next_wave=False)
        # annotators label these items now: a lead accepting the model's label in review would
        # overwrite the pick, so their open low-confidence tasks close (every planning path)
        review.release_wave_items(project, [int(p.item_id) for p in plan.picks], number)
    analyze_tables(WaveItem, Assignment)
    return wave


def _busy_since_snapshot(project: Project, item_ids: list[int]) -> set[int]:
    """Of the planned items, those answered, under a live lease or in an unfinished wave now."""
    busy = set(Annotation.objects.filter(project=project, undone=False, item_id__in=item_ids)
               .values_list("item_id", flat=True))
    busy |= set(pool.leased_items(project).filter(wave_item__item_id__in=item_ids)
                .values_list("wave_item__item_id", flat=True))
    busy |= set(WaveItem.objects.filter(wave__project=project, wave__state__in=[Wave.PLANNED, Wave.OPEN],
                                        item_id__in=item_ids).values_list("item_id", flat=True))
    return busy


def open_wave(wave: Wave) -> Wave:
    """Hand the wave to annotators. A project has one open wave at a time."""
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(pk=wave.project_id).first()
        wave.refresh_from_db(fields=["state", "report"])
        if wave.state == Wave.OPEN:
            return wave
        if wave.state == Wave.DISCARDED:
            why = (wave.report or {}).get("discarded", {}).get("reason", "")
            raise ValueError(f"Wave {wave.number} was discarded before it opened{f' ({why})' if why else ''}; "
                             "only a planned wave can be opened.")
        if wave.state != Wave.PLANNED:
            raise ValueError(f"Wave {wave.number} is {wave.state}; only a planned wave can be opened.")
        other = Wave.objects.filter(project_id=wave.project_id, state=Wave.OPEN).exclude(pk=wave.pk).first()
        if other is not None:
            raise ValueError(f"Wave {other.number} is still open; close it before opening wave {wave.number}.")
        _refuse_over_budget(wave)
        _refuse_stale_settings(project, wave)
        Wave.objects.filter(pk=wave.pk).update(state=Wave.OPEN)
    wave.state = Wave.OPEN
    return wave


def _refuse_stale_settings(project: Project, wave: Wave) -> None:
    """Not handed out: a plan made under wave-shaping settings changed since (discard.stale_plans for its own model; the
    budget is _refuse_over_budget's), unless its re-plan failed under the settings as they are (replan_failed["settings"])."""
    failed = (wave.report or {}).get("replan_failed") or {}
    kept = failed and failed.get("settings") in (None, pool.plan_settings(project, cold=wave.cold_start))
    if kept or wave not in discard.stale_plans(project, wave.model_version):
        return
    if changed := ", ".join(f for f in discard.settings_changed(wave, project) if f != "label_budget"):
        raise ValueError(f"Wave {wave.number} was not opened: it was planned under other settings ({changed} changed "
                         f"since). Plan the next wave: it replaces wave {wave.number} under the settings as they are now.")


def _refuse_over_budget(wave: Wave) -> None:
    """BudgetSpent (409 on the API, an error on the waves page) when the planned wave asks more answers
    than the label budget has left beside the other waves' commitments: a plan may wait past a lowered
    budget, or past the answers that spent it (its re-plan failed and kept it: labeling.waves.replan)."""
    status = selectors.budget_status(Project.objects.get(pk=wave.project_id))
    if status["budget"] is None:
        return
    asks = WaveItem.objects.filter(wave_id=wave.pk).aggregate(n=Sum("overlap"))["n"] or 0
    room = status["budget"] - status["used"] - (status["committed"] - asks)  # committed counts this wave too
    if asks > room:
        raise BudgetSpent(
            f"Wave {wave.number} was not opened: it asks for {asks} answers and the label budget of {status['budget']} "
            f"has {max(0, room)} left ({status['used']} labels given, {status['committed'] - asks} owed to other waves). "
            f"Raise the label budget on the settings page, or close wave {wave.number} (a planned wave that is closed "
            "is discarded) and plan again: a new plan shrinks to what is left.")


def close_wave(wave: Wave) -> Wave:
    """Close the wave; its unanswered items go back to the pool for later waves.

    Live leases are left alone: an annotator who holds one can still answer until it expires, and
    that answer counts; the planner leaves these items out while leased (``pool.leased_items``).
    ``wave.live_leases`` says how many there were, ``selectors.close_note(wave)`` says it in words.

    A wave that never opened is discarded instead (state DISCARDED, its picks deleted: they were
    never asked, so no estimate counts them as drawn; labeling.waves.discard). A discarded wave
    cannot be closed (ValueError)."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=wave.project_id).first()
        state = Wave.objects.filter(pk=wave.pk).values_list("state", flat=True).first()
        if state == Wave.DISCARDED:
            raise ValueError(f"Wave {wave.number} was discarded before it opened; there is nothing to close.")
        if state == Wave.PLANNED:
            wave.refresh_from_db()
            discard.discard_wave(wave, "closed by a lead before it opened")
        else:
            Wave.objects.filter(pk=wave.pk).exclude(state=Wave.CLOSED).update(
                state=Wave.CLOSED, closed_at=timezone.now())
    wave.refresh_from_db(fields=["state", "closed_at", "report"])
    wave.live_leases = selectors.live_leases(wave)
    return wave


def open_wave_if_idle(project: Project, wave: Wave) -> bool:
    """Open a freshly planned wave when no other wave is open. True when it was opened."""
    if Wave.objects.filter(project=project, state=Wave.OPEN).exclude(pk=wave.pk).exists():
        return False
    open_wave(wave)
    return True


def plan_and_open_if_idle(project: Project) -> Wave | None:
    """Plan and open the next wave when the project has no open wave (the loop's last step).
    Returns the opened wave, or None when one is already open.

    A planned wave made with the active model is opened; stale planned waves (made with another model,
    an older one or a cold start once a model exists, or under settings changed since) are discarded and
    a new wave is planned with the active model (labeling.waves.discard): after a retrain the next wave is
    the new model's. The returned wave's ``replaced`` lists what was discarded, ``opened_note`` says it.

    When that new plan fails (an error, not NothingToPlan), the discard is undone and the waiting plan
    opens as it was made: the loop must not stop with a plan waiting and nothing open. Its
    report["replan_failed"] and the returned wave's ``replan_failed`` say with which model and why.
    NothingToPlan still ends it with nothing opened and the plan left waiting: the budget is spent, or
    no item of the pool (the waiting plan's included) can be asked any more. Runs under the project's
    row lock, in the caller's transaction when there is one."""
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(pk=project.pk).first() or project  # as saved, locked
        if current_wave(project) is not None:
            return None
        # Labels before picks, as plan_next_wave: a label's deletion also updates the picks the
        # discard deletes, and taking the two the other way round would deadlock with it.
        hold_labels(project)
        version = active_model(project)
        stale = discard.stale_plans(project, version)
        failure = None
        try:
            with transaction.atomic():  # the discard stands only with a new wave to open instead
                replaced = discard.discard_stale_plans(project, version)
                planned = Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first()
                wave = planned or plan_next_wave(project)
                if replaced:
                    if planned is None:
                        Wave.objects.filter(pk=wave.pk).update(
                            report=to_jsonable({**wave.report, "replaces": replaced}))
                    _reroute_review(version)
        except NothingToPlan:
            raise
        except Exception as exc:
            if not stale:
                raise
            log.warning("planning %s afresh failed; its waiting plan opens instead", project.slug, exc_info=True)
            replaced = []
            wave = keep_stale_plan(stale[-1], version, exc)
            failure = wave.replan_failed
        wave = open_wave(wave)
    wave.replaced, wave.replan_failed = replaced, failure
    return wave


def keep_stale_plan(stale: Wave, version, exc: Exception) -> Wave:
    """The stale plan kept because planning it afresh failed: its report["replan_failed"] (and the returned wave's
    ``replan_failed``) says for which model, with what error, when, under which settings (_refuse_stale_settings)."""
    wave = Wave.objects.select_related("project").get(pk=stale.pk)
    failure = {"model": f"model v{version.number}" if version is not None else "a cold start",
               "error": f"{type(exc).__name__}: {exc}"[:500], "at": timezone.now().isoformat(),
               "settings": pool.plan_settings(wave.project, cold=wave.cold_start)}
    wave.report = to_jsonable({**(wave.report or {}), "replan_failed": failure})
    Wave.objects.filter(pk=wave.pk).update(report=wave.report)
    wave.replan_failed = failure
    return wave


def opened_note(wave: Wave) -> str:
    """"wave 4 opened (20 items)", plus the planned waves it replaced, or why it opened as it was
    planned (a failed re-plan): for the run's message."""
    text = f"wave {wave.number} opened ({wave.size} items)"
    failed = getattr(wave, "replan_failed", None)
    if failed:
        return (f"{text}, as planned with {discard.model_name(wave)}: planning it afresh with {failed['model']} "
                f"failed ({failed['error']})")
    gone = discard.discarded_text(getattr(wave, "replaced", []))
    return f"{text}; {gone}" if gone else text


def _reroute_review(version) -> None:
    """Discarded picks are back in the pool, which the activation's routing pass left out (they were
    waiting in a wave): route the review queue again, without letting a failure undo the plan."""
    if version is None:
        return
    try:
        with transaction.atomic():
            review.route_low_confidence(version)
    except Exception:  # noqa: BLE001  (the next activation or settings change routes again)
        log.exception("routing the review queue after discarding planned waves failed")
