"""Write paths of a project's memberships: who is a lead or an annotator, and leaving a project
(whose unanswered leases go back to the others at once). ``services`` re-exports both."""
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.annotations.release import release_leases

from .models import Membership, Project


@transaction.atomic
def set_member(project: Project, user, role: str) -> Membership:
    if role not in {Membership.LEAD, Membership.ANNOTATOR}:
        raise ValidationError({"role": f"Unknown role {role!r}; use lead or annotator."})
    if role != Membership.LEAD:
        # Locks the project's leads, so that two leads demoting each other at once cannot both win.
        leads = Membership.objects.select_for_update().filter(project=project, role=Membership.LEAD).order_by("pk")
        if list(leads.values_list("user_id", flat=True)) == [user.pk]:
            raise ValidationError({"role": "A project keeps at least one lead; make someone else lead before "
                                           "changing this one's role."})
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    # Locks the leads as set_member does: of two leads removing each other at once, the second sees the first gone.
    leads = Membership.objects.select_for_update().filter(project=membership.project, role=Membership.LEAD)
    if list(leads.order_by("pk").values_list("user_id", flat=True)) == [membership.user_id]:
        raise ValidationError("A project keeps at least one lead; add another lead before removing this one.")
    membership.delete()
    # They can no longer answer: their unanswered leases go back to the others now, not when they run out.
    release_leases(membership.project, membership.user)
