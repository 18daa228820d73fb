"""Picks a lead has decided: a live adjudication of the pick's item given since its wave was
planned. The pick is then complete whatever answers it has (``labeling.waves.selectors._COUNTED``:
the rule the wave's progress and completion read), so it asks nobody for more: leasing hands it to
nobody, the answer path refuses an answer on it (reason ``decided``), and the "nothing is waiting"
message does not count it as waiting for someone else. An adjudication the item had before the
wave picked it decides nothing for that pick, as the progress counts it."""
from django.db.models import Exists, OuterRef

from labeling.waves.models import WaveItem

from .models import Annotation


def _adjudications():
    return Annotation.objects.filter(origin=Annotation.ADJUDICATION, undone=False, label__isnull=False)


def decided_pick() -> Exists:
    """True for a wave item (of a WaveItem queryset) whose item a lead decided since its wave was planned."""
    return Exists(_adjudications().filter(item_id=OuterRef("item_id"), created_at__gte=OuterRef("wave__created_at")))


def pick_is_decided(wave_item: WaveItem) -> bool:
    return _adjudications().filter(item_id=wave_item.item_id, created_at__gte=wave_item.wave.created_at).exists()
