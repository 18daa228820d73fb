"""Write paths of a project's memberships: who is a lead or an annotator, and leaving a project
(whose unanswered leases go back to the others at once). ``services`` re-exports both; the admin
calls them too, and checks a page of rows first with ``locked_leads`` (the same lock)."""
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.annotations.release import release_leases

from .last_lead import lock_leads
from .models import Membership, Project

KEEP_A_LEAD_ROLE = "A project keeps at least one lead; make someone else lead before changing this one's role."
KEEP_A_LEAD_REMOVE = "A project keeps at least one lead; add another lead before removing this one."


def locked_leads(project: Project) -> list[int]:
    """The user ids of the project's leads, their rows locked in id order until the transaction
    ends: two saves demoting or removing each other's leads at once are judged one after the other
    (last_lead.lock_leads: a user deletion locks them the same way)."""
    return lock_leads(project.pk)


@transaction.atomic
def set_member(project: Project, user, role: str) -> Membership:
    if role not in {Membership.LEAD, Membership.ANNOTATOR}:
        raise ValidationError({"role": f"Unknown role {role!r}; use lead or annotator."})
    if role != Membership.LEAD and locked_leads(project) == [user.pk]:
        raise ValidationError({"role": KEEP_A_LEAD_ROLE})
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    # Locks the leads as set_member does: of two leads removing each other at once, the second sees the first gone.
    if locked_leads(membership.project) == [membership.user_id]:
        raise ValidationError(KEEP_A_LEAD_REMOVE)
    membership.delete()
    # They can no longer answer: their unanswered leases go back to the others now, not when they run out.
    release_leases(membership.project, membership.user)
