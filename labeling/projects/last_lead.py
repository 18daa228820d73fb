"""Deleting users keeps every project a lead. A user's memberships go with them (CASCADE), past
membership.remove_member's check, so whatever deletes users asks here first: the admin's user pages
(admin_users: refused on the confirmation page, nothing deleted) and the user model's pre_delete
receiver (labeling.annotations.release: a shell or a command, refused with the same words); the
admin's membership deletions ask ``projects_left_without_a_lead`` with the memberships they delete.

This module imports only the models (membership.py imports labeling.annotations.release, which
imports this): ``lock_leads`` is the one statement that locks a project's leads, membership.locked_leads
included, so every path locks the same rows in the same order."""
from .models import Membership, Project


def lock_leads(project_id: int) -> list[int]:
    """The project's leads' user ids, their rows locked in id order until the transaction ends
    (membership.locked_leads is this)."""
    return list(Membership.objects.select_for_update().filter(project_id=project_id, role=Membership.LEAD)
                .order_by("pk").values_list("user_id", flat=True))


def leads_of_projects(project_ids, *, lock: bool) -> dict[int, list[int]]:
    """{project id: its leads' user ids}. With ``lock``, each project's lead rows are locked,
    projects in id order: a demotion or removal of a project's other lead (membership.set_member /
    remove_member take the same lock) is judged before or after the caller's deletion, never beside
    it, and a member promoted meanwhile is seen. Without, one query for them all."""
    project_ids = sorted(set(project_ids))
    if lock:
        return {project_id: lock_leads(project_id) for project_id in project_ids}
    leads: dict[int, list[int]] = {project_id: [] for project_id in project_ids}
    for project_id, user_id in Membership.objects.filter(project_id__in=project_ids, role=Membership.LEAD) \
            .values_list("project_id", "user_id"):
        leads[project_id].append(user_id)
    return leads


def projects_left_without_a_lead(leaving: dict[int, set[int]], *, lock: bool) -> dict[int, list[int]]:
    """The keep-a-lead check of every path that takes people out of projects: ``leaving`` is {project
    id: the user ids leaving it}; returns {project id: its leads} for each project all of whose leads
    are among them (empty when every project keeps one). Locking as ``leads_of_projects``."""
    return {project_id: leads for project_id, leads in leads_of_projects(list(leaving), lock=lock).items()
            if leads and set(leads) <= leaving[project_id]}


def left_without_a_lead(users, *, lock: bool) -> list[str]:
    """Why deleting ``users`` (together) is refused: one line per project all of whose leads are
    among them, naming the project, its leads and what to do. Empty when every project keeps one."""
    names = {user.pk: user.get_username() for user in users}
    # A deleted user leaves every project they are a member of.
    project_ids = Membership.objects.filter(user_id__in=list(names)).values_list("project_id", flat=True)
    orphaned = projects_left_without_a_lead({project_id: set(names) for project_id in project_ids}, lock=lock)
    problems = []
    for project in Project.objects.filter(pk__in=orphaned).order_by("name", "pk"):
        leads = [names[user_id] for user_id in orphaned[project.pk]]
        who = f"{leads[0]} is its only lead" if len(leads) == 1 else f"{', '.join(leads)} are its only leads"
        problems.append(f"Project “{project.name}” ({project.slug}): {who}. Make another member lead first (the "
                        f"project's page here, or its Members page), then delete {'the user' if len(leads) == 1 else 'them'}.")
    return problems
