"""Discarding planned waves that never opened (see docs/loop.md, "Waves").

A planned wave is a draw from the pool as it was, under the model active when it was planned.
Two things end such a wave before annotators see it:

* the loop opens the next wave (``services.plan_and_open_if_idle``, the retrain's last step) or a
  lead plans one, and the waiting plan was made with a model that is no longer the active one (or
  as a cold start, before any model): it is discarded and a new wave is planned with the active
  model, so "the retrain plans and opens the next wave with the new model" holds;
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

from .models import Wave, WaveItem


def model_name(wave: Wave) -> str:
    """"model v3", or "a cold start" for a wave planned without a model."""
    return f"model v{wave.model_version.number}" if wave.model_version_id else "a cold start"


def stale_plans(project, version) -> list[Wave]:
    """The project's planned waves made with another model than ``version`` (the active one; None
    when there is none): a wave planned with an older model, or as a cold start once a model exists."""
    planned = Wave.objects.filter(project=project, state=Wave.PLANNED).select_related("model_version")
    if version is None:
        planned = planned.filter(model_version__isnull=False)
    else:
        planned = planned.exclude(model_version_id=version.pk)
    return list(planned.order_by("number"))


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
    """Discard every planned wave made with another model than the active ``version``; returns
    {wave, model, size} of each, for the next wave's report and the messages."""
    out = []
    now_model = f"model v{version.number}" if version is not None else "no model"
    for wave in stale_plans(project, version):
        was = model_name(wave)
        discard_wave(wave, f"planned with {was}; {now_model} is active now, and the next wave is planned with it")
        out.append({"wave": wave.number, "model": was, "size": wave.size})
    return out


def discarded_text(discarded: list[dict]) -> str:
    """"planned wave 2 (20 items, model v2) discarded: made with another model …", or ""."""
    if not discarded:
        return ""
    waves = ", ".join(f"{d['wave']} ({d['size']} items, {d['model']})" for d in discarded)
    return (f"planned wave{'s' if len(discarded) > 1 else ''} {waves} discarded: made with another model than "
            "the active one, never opened")
