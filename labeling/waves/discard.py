"""Discarding planned waves that never opened (see docs/loop.md, "Waves").

A planned wave is a draw from the pool as it was, under the model active when it was planned.
Two things end such a wave before annotators see it:

* it is stale: made with a model that is no longer the active one (or as a cold start, before any
  model), or under settings that shape a wave (``pool.plan_settings``) that changed since. It is
  discarded and a new wave is planned with the active model and the settings as they are, when
  the loop opens the next wave (``services.plan_and_open_if_idle``, the retrain's last step), when
  a lead plans one, and as soon as a new model is active or the settings change
  (``labeling.waves.replan``), so that the wave pages show as next is never the old model's;
* a lead closes it before it opened (``services.close_wave``).

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

from django.utils import timezone

from labeling.items.models import Item
from learner.jsonable import to_jsonable

from . import pool
from .models import Wave, WaveItem


def model_name(wave: Wave) -> str:
    """"model v3", or "a cold start" for a wave planned without a model."""
    return f"model v{wave.model_version.number}" if wave.model_version_id else "a cold start"


def _other_model(wave: Wave, version) -> bool:
    return wave.model_version_id is not None if version is None else wave.model_version_id != version.pk


def _settings_changed(wave: Wave, now: dict) -> list[str]:
    """The wave-shaping settings that differ from those the wave was planned under; [] for a plan
    that did not record them (made before plans recorded them: nothing to compare with)."""
    then = (wave.report or {}).get("planned_under")
    if not then:
        return []
    return sorted(field for field in set(then) | set(now) if then.get(field) != now.get(field))


def _stale(project, version) -> list[tuple[Wave, list[str]]]:
    """(wave, settings changed since it was planned) of each stale planned wave (module doc), in
    number order. ``project``: as the database holds it now, locked (every caller plans or opens
    under the project's row lock and reads it there), so its settings are the saved ones."""
    planned = Wave.objects.filter(project=project, state=Wave.PLANNED).select_related("model_version")
    planned = list(planned.order_by("number"))
    if not planned:
        return []
    now = pool.plan_settings(project)
    out = [(wave, _settings_changed(wave, now)) for wave in planned]
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
