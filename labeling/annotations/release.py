"""Giving back the slots of someone who can no longer answer.

* **Leaving a project** (``release_leases``): once their membership is gone they can no longer
  answer, so their unanswered leases would only block the items for everyone else until they run
  out (``LONGTAIL_LEASE_SECONDS``). They are expired at once, as expiry would later, and their
  slots go back to the pool (``leasing.change_slots``) under the wave items' row locks.
* **A deleted user** (``release_user_slots``, run before the user row goes): the slot of each
  unanswered lease they hold goes back to the pool, and those leases (and their leases that ran
  out) are deleted. Their answers (and skips) stay in the data with no annotator (Annotation.annotator
  and Assignment.annotator are SET_NULL), and so do their answered assignments: an answer keeps the
  wave pick that brought it (its wave, strategy and inclusion probability in the export, the
  dashboard and the answers API). They keep counting as the wave's completion check counts them
  (by item, from the answers: ``labeling.waves.selectors``): the slot each took stays taken and
  done, so the item is not handed out again for an answer it has. A user who is a project's only
  lead is not deleted (``last_lead``): their membership would go with them, past the members
  paths' check, and leave the project without a lead.
* **A deactivated user** (``user_saved``: ``is_active`` saved False, the admin's "Active" box):
  they can no longer sign in, nor use a token or a session, so they can no longer answer; their
  unanswered leases are given back as a removal gives them back, in every project. (A queryset
  ``update()`` sends no signal and gives nothing back: their leases then run out.)
"""
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from labeling.projects.last_lead import left_without_a_lead
from labeling.projects.models import Membership, Project
from labeling.waves.models import WaveItem

from .excluded_picks import ask_no_more_of_excluded
from .leasing import change_slots, release_unanswered
from .models import Assignment


def release_leases(project: Project, user) -> int:
    """Expire every unanswered lease ``user`` holds on the project's wave items (live or past its
    time: both still count in ``slots_taken``) and free their slots; returns how many. Call inside
    the transaction that removes the membership. Answers (done, skipped) are kept."""
    held = Assignment.objects.filter(annotator=user, state=Assignment.LEASED, wave_item__wave__project=project)
    return len(release_unanswered(user, held.values_list("wave_item_id", flat=True)))


def release_user_slots(user) -> int:
    """Give back the slots of ``user``'s unanswered leases and delete them, with their leases that
    ran out; their answered (done, skipped) assignments stay, their annotator set to NULL by the
    deletion (their slots stay taken and done: their answers stay); returns how many slots went
    back. Call inside the transaction that deletes the user (the pre_delete receiver does)."""
    _lock_memberships(user)
    leases = Assignment.objects.filter(annotator=user, state=Assignment.LEASED)
    wave_item_ids = sorted(set(leases.values_list("wave_item_id", flat=True)))
    if wave_item_ids:
        _lock_wave_items(wave_item_ids)
    # As they are now that the items are locked: a lease answered meanwhile keeps its slot.
    held = Counter(leases.values_list("wave_item_id", flat=True))
    by_count: dict[int, list[int]] = {}
    for wave_item_id, n in held.items():
        by_count.setdefault(n, []).append(wave_item_id)
    for n, ids in by_count.items():
        change_slots(ids, taken=-n)
    # A pick of an item a lead excluded while this user held it asks nobody else (as for a removal).
    ask_no_more_of_excluded(list(held))
    # Unanswered ones only: a lease with no annotator would hold a slot nobody can answer.
    Assignment.objects.filter(annotator=user, state__in=[Assignment.LEASED, Assignment.EXPIRED]).delete()
    return sum(held.values())


def user_saved(sender, instance, created=False, update_fields=None, **kwargs) -> int:
    """post_save receiver of the user model: a user saved inactive holds no lease (a user's save
    that leaves ``is_active`` alone, as a sign-in's ``last_login``, is not looked at). Connected in
    AnnotationsConfig.ready, beside ``user_deleted``."""
    if created or instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return 0
    with transaction.atomic():
        _lock_memberships(instance)
        held = Assignment.objects.filter(annotator=instance, state=Assignment.LEASED)
        return len(release_unanswered(instance, held.values_list("wave_item_id", flat=True)))


def user_deleted(sender, instance, origin=None, **kwargs) -> None:
    """pre_delete receiver of the user model (connected in AnnotationsConfig.ready): every path that
    deletes a user (the admin, a shell, a management command) refuses a project's only lead, and
    gives their slots back. The users deleted together (``origin``, the queryset whose delete() this
    is) count as one: two who are a project's only two leads are refused together too."""
    if isinstance(origin, QuerySet) and origin.model is sender:
        # Sent once per user of the queryset: judged (and the leads' rows locked, until the
        # transaction ends) once for them all, not once per user.
        problems = getattr(origin, "_lead_check", None)
        if problems is None:
            together = list(origin)
            problems = left_without_a_lead(together if instance in together else [instance], lock=True)
            origin._lead_check = problems
    else:  # the leads' locks first, as the members paths take them before any membership row
        problems = left_without_a_lead([instance], lock=True)
    if problems:
        raise ValidationError(problems)
    release_user_slots(instance)


def _lock_memberships(user) -> None:
    """The user's memberships first, as a lease and an answer share-lock them before the wave
    items: one under way commits before this reads its leases, and a later one waits."""
    list(Membership.objects.select_for_update().filter(user=user).order_by("pk").values_list("pk", flat=True))


def _lock_wave_items(wave_item_ids) -> None:
    """The wave items' rows, in id order as every slot writer locks them."""
    list(WaveItem.objects.filter(pk__in=wave_item_ids).order_by("pk").select_for_update(of=("self",))
         .values_list("pk", flat=True))
