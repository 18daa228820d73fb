"""Giving back the leases of someone who leaves a project: once their membership is gone they can
no longer answer, so their unanswered leases would only block the items for everyone else until
they run out (``LONGTAIL_LEASE_SECONDS``). They are expired at once, as expiry would later, and
their slots go back to the pool (``leasing.change_slots``) under the wave items' row locks."""
from django.db.models import Exists, OuterRef

from labeling.projects.models import Project
from labeling.waves.models import WaveItem

from .leasing import change_slots
from .models import Annotation, Assignment


def release_leases(project: Project, user) -> int:
    """Expire every unanswered lease ``user`` holds on the project's wave items (live or past its
    time: both still count in ``slots_taken``) and free their slots; returns how many. Call inside
    the transaction that removes the membership. Answers (done, skipped) are kept."""
    held = Assignment.objects.filter(annotator=user, state=Assignment.LEASED, wave_item__wave__project=project)
    wave_item_ids = sorted(set(held.values_list("wave_item_id", flat=True)))
    if not wave_item_ids:
        return 0
    # The wave items first, in id order as every slot writer locks them; then the leases as they are now.
    list(WaveItem.objects.filter(pk__in=wave_item_ids).order_by("pk").select_for_update(of=("self",))
         .values_list("pk", flat=True))
    answered = Annotation.objects.filter(assignment=OuterRef("pk"), undone=False)
    released = list(Assignment.objects.filter(annotator=user, state=Assignment.LEASED, wave_item_id__in=wave_item_ids)
                    .exclude(Exists(answered)).values_list("pk", "wave_item_id"))
    Assignment.objects.filter(pk__in=[pk for pk, _ in released]).update(state=Assignment.EXPIRED)
    # One lease per annotator and wave item (the assignment_one_live_per_annotator constraint): one slot each.
    change_slots([wave_item_id for _, wave_item_id in released], taken=-1)
    return len(released)
