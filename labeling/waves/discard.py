"""Discarding planned waves that never opened (see docs/loop.md, "Waves").

A planned wave is a draw from the pool as it was, under the model active when it was planned.
Two things end such a wave before annotators see it:

* it is stale: made with a model that is no longer the active one (or as a cold start, before any
  model), or under settings that shape its kind of plan (``pool.plan_settings``: for a cold start
  the enabled rules and not the model's mix and band, for a model's plan the reverse) that changed
  since. It is
  discarded and a new wave is planned with the active model and the settings as they are, when
  the loop opens the next wave (``services.plan_and_open_if_idle``, the retrain's last step), when
  a lead plans one, and as soon as a new model is active or the settings change
  (``labeling.waves.replan``), so that the wave pages show as next is never the old model's;
* a lead closes it before it opened (``services.close_wave``).

An item a lead excludes leaves unfinished waves without discarding them (``take_out_excluded``).
An item deleted (the Django admin) leaves every wave it was picked for, held or not (``take_out_deleted``).

Discarded, not re-planned in place: the new plan is another sample (another model, another
eligible pool, other inclusion probabilities), so it gets its own number, and the old number keeps
its record (state ``discarded``, size, model, why, which items) in the waves list. The old picks are
deleted, never closed: they were never asked, so they are no drawn picks, and no estimate counts
them (``labeling.projects.estimates`` reads every pick with a stated π; a closed wave's unanswered
picks would count as drawn and unanswered). Its items go back to the pool; items a lead had pinned
for it are pinned again.

Callers hold the project's row lock (``services`` takes it) inside their transaction.
"""
from __future__ import annotations

from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.annotations.leasing import expire_locked
from labeling.items.models import Item
from learner.jsonable import to_jsonable

from . import pool
from .models import Wave, WaveItem


def model_name(wave: Wave) -> str:
    """"model v3", or "a cold start" for a wave planned without a model."""
    return f"model v{wave.model_version.number}" if wave.model_version_id else "a cold start"


def _other_model(wave: Wave, version) -> bool:
    return wave.model_version_id is not None if version is None else wave.model_version_id != version.pk


def settings_changed(wave: Wave, project, now: dict | None = None) -> list[str]:
    """The wave-shaping settings that differ from those the wave was planned under (``now``: the
    project's ``pool.plan_settings`` for the wave's kind of plan, read here when not given: a cold
    start is compared on what shapes a cold start, a model's plan on what shapes it, whichever model
    is active now); [] for a plan that did not record them (made before plans recorded them: nothing
    to compare with), and the same for each setting a plan did not record (``rules``, recorded since:
    a waiting plan made before is not discarded for it) or that does not shape its kind (the model's
    mix a cold-start plan recorded before plans recorded by kind). Quotas a plan recorded by source
    name (before they were recorded by id) are compared by name."""
    then = (wave.report or {}).get("planned_under")
    if not then:
        return []
    now = pool.plan_settings(project, cold=_cold(wave)) if now is None else now
    if isinstance(then.get("source_quotas"), dict):
        now = {**now, "source_quotas": pool.quotas_by_name(project)}
    return sorted(field for field in then if field in now and then.get(field) != now.get(field))


def _cold(wave: Wave) -> bool:
    """Whether the wave is a cold start's plan (made with no model: the planner read no scores and drew
    by the cold-start mix), as the plan recorded it."""
    return bool(wave.cold_start)


def _stale(project, version) -> list[tuple[Wave, list[str]]]:
    """(wave, settings changed since it was planned) of each stale planned wave (module doc), in
    number order. ``project``: as the database holds it now, locked (every caller plans or opens
    under the project's row lock and reads it there), so its settings are the saved ones."""
    planned = Wave.objects.filter(project=project, state=Wave.PLANNED).select_related("model_version")
    planned = list(planned.order_by("number"))
    if not planned:
        return []
    now = {cold: pool.plan_settings(project, cold=cold) for cold in {_cold(wave) for wave in planned}}
    out = [(wave, settings_changed(wave, project, now[_cold(wave)])) for wave in planned]
    return [(wave, changed) for wave, changed in out if changed or _other_model(wave, version)]


def stale_plans(project, version) -> list[Wave]:
    """The project's planned waves made with another model than ``version`` (the active one; None
    when there is none), or under wave-shaping settings that changed since."""
    return [wave for wave, _ in _stale(project, version)]


def discard_wave(wave: Wave, reason: str) -> Wave:
    """PLANNED → DISCARDED: its picks are deleted (items back in the pool, lead-pinned items pinned
    again) and report["discarded"] keeps what it was and ``reason``. Returns the wave as it is now."""
    now = timezone.now()
    picks = list(WaveItem.objects.filter(wave=wave).values_list("item_id", "strategy"))
    record = {"reason": reason, "at": now.isoformat(), "size": wave.size, "model_version":
              wave.model_version.number if wave.model_version_id else None, "cold_start": wave.cold_start,
              "items": sorted(item_id for item_id, _ in picks)}
    report = to_jsonable({**(wave.report or {}), "discarded": record})
    updated = Wave.objects.filter(pk=wave.pk, state=Wave.PLANNED).update(
        state=Wave.DISCARDED, closed_at=now, report=report)
    if not updated:
        wave.refresh_from_db()
        return wave
    Item.objects.filter(id__in=[item_id for item_id, strategy in picks if strategy == "pinned"],
                        excluded=False).update(pinned_for_next_wave=True)
    WaveItem.objects.filter(wave=wave).delete()
    wave.state, wave.closed_at, wave.report = Wave.DISCARDED, now, report
    return wave


def discard_stale_plans(project, version) -> list[dict]:
    """Discard every stale planned wave (module doc); returns {wave, model, size} of each, with
    ``settings`` (the fields changed) when it was made with the active model, for the next wave's
    report and the messages."""
    out = []
    now_model = f"model v{version.number}" if version is not None else "no model"
    for wave, changed in _stale(project, version):
        was = model_name(wave)
        if _other_model(wave, version):
            discard_wave(wave, f"planned with {was}; {now_model} is active now, and the next wave is planned with it")
            out.append({"wave": wave.number, "model": was, "size": wave.size})
        else:
            discard_wave(wave, f"planned under other settings ({', '.join(changed)} changed since); the next wave is "
                               "planned under the settings as they are now")
            out.append({"wave": wave.number, "model": was, "size": wave.size, "settings": changed})
    return out


def discarded_text(discarded: list[dict]) -> str:
    """"planned wave 2 (20 items, model v2) discarded: made with another model …", or ""."""
    by_model = [d for d in discarded if "settings" not in d]
    by_settings = [d for d in discarded if "settings" in d]
    parts = []
    for group, why in ((by_model, "made with another model than the active one"),
                       (by_settings, "made under settings changed since ("
                        + ", ".join(sorted({f for d in by_settings for f in d["settings"]})) + ")")):
        if group:
            waves = ", ".join(f"{d['wave']} ({d['size']} items, {d['model']})" for d in group)
            parts.append(f"planned wave{'s' if len(group) > 1 else ''} {waves} discarded: {why}, never opened")
    return "; ".join(parts)


def take_out_excluded(project, item_ids) -> list[dict]:
    """Take items a lead is excluding out of the project's planned and open waves, so nobody is asked
    about them (docs/loop.md, "Excluded items"); call under the project's row lock (plans hold it, so
    none drew them from a snapshot older than the exclusion) before the items are flagged. Returns
    {wave, state, removed, held} per wave touched, in number order.

    A pick nobody holds is deleted, as a discarded wave's picks are: never asked, it is no drawn
    pick, and the estimates (pool of items not excluded) are those of the waves' draws restricted
    to that pool. Deleting it rather than re-planning keeps the rest of a planned wave as drawn, and
    the wave's size and committed budget shrink with it. A pick an annotator holds (a live lease, or
    an answer of an earlier slot) stays with the slots held: its overlap drops to them, so no other
    annotator gets it, the holder may still answer until the lease runs out (as on a closed wave:
    the page may be showing it), and the wave completes once they have."""
    picks = list(WaveItem.objects.filter(wave__project=project, wave__state__in=[Wave.PLANNED, Wave.OPEN],
                                         item_id__in=list(item_ids))
                 .order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
    if not picks:
        return []
    expire_locked(picks)  # leases past their time free their slots first: the counts are exact
    rows = list(WaveItem.objects.filter(pk__in=picks).values_list(
        "pk", "item_id", "slots_taken", "wave_id", "wave__number", "wave__state"))
    by_wave: dict[int, dict] = {}
    for _, item_id, taken, wave_id, number, state in rows:
        entry = by_wave.setdefault(wave_id, {"wave": number, "state": state, "removed": [], "held": []})
        entry["held" if taken else "removed"].append(item_id)
    WaveItem.objects.filter(pk__in=[pk for pk, _, taken, *_ in rows if not taken]).delete()
    WaveItem.objects.filter(pk__in=[pk for pk, _, taken, *_ in rows if taken]).update(overlap=F("slots_taken"))
    for wave in Wave.objects.filter(pk__in=list(by_wave)).order_by("pk"):
        entry = by_wave[wave.pk]
        record = (wave.report or {}).get("excluded", []) + [
            {"at": timezone.now().isoformat(), "removed": sorted(entry["removed"]), "held": sorted(entry["held"])}]
        Wave.objects.filter(pk=wave.pk).update(size=Greatest(F("size") - len(entry["removed"]), 0),
                                               report=to_jsonable({**(wave.report or {}), "excluded": record}))
    return sorted(({**e, "removed": len(e["removed"]), "held": len(e["held"])} for e in by_wave.values()),
                  key=lambda e: e["wave"])


def excluded_text(waves: list[dict]) -> str:
    """What an exclusion did to unfinished waves, for the bulk action's reply; "" when none held them."""
    parts = []
    for w in waves:
        if w["removed"]:
            parts.append(f"{w['removed']} taken out of {w['state']} wave {w['wave']}")
        if w["held"]:
            parts.append(f"{w['held']} already answered or leased in {w['state']} wave {w['wave']}: those answers "
                         "(and leases, until they run out) stand, no other annotator is given the item")
    return "; ".join(parts)


def take_out_deleted(project, item_ids) -> list[dict]:
    """Take items that are about to be deleted out of every wave of the project (call under the
    project's row lock, in the deletion's transaction); returns {wave, state, deleted} per wave
    touched, in number order. Unlike an exclusion (``take_out_excluded``) nothing is kept: the
    deletion takes the item's answers and leases with it, so each of its picks goes, held or not,
    the wave's size shrinks by every one of them and report["deleted"] records the items as deleted
    (never as excluded items kept for their answers, which are gone too)."""
    rows = list(WaveItem.objects.filter(wave__project=project, item_id__in=list(item_ids))
                .order_by("pk").select_for_update(of=("self",)).values_list("pk", "item_id", "wave_id"))
    if not rows:
        return []
    by_wave: dict[int, list[int]] = {}
    for _, item_id, wave_id in rows:
        by_wave.setdefault(wave_id, []).append(item_id)
    WaveItem.objects.filter(pk__in=[pk for pk, *_ in rows]).delete()
    out = []
    for wave in Wave.objects.filter(pk__in=list(by_wave)).order_by("number"):
        items = sorted(by_wave[wave.pk])
        report = dict(wave.report or {})
        record = report.get("deleted", []) + [{"at": timezone.now().isoformat(), "items": items}]
        if report.get("excluded"):  # an excluded item kept for its answers is now deleted with them
            gone = set(items)
            report["excluded"] = [{**e, "held": [i for i in e.get("held") or [] if i not in gone]}
                                  for e in report["excluded"]]
        Wave.objects.filter(pk=wave.pk).update(size=Greatest(F("size") - len(items), 0),
                                               report=to_jsonable({**report, "deleted": record}))
        out.append({"wave": wave.number, "state": wave.state, "deleted": len(items)})
    return out
