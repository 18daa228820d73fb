"""Who may do what. Superusers are admins and see everything; a lead configures and exports
their projects; an annotator labels in projects they belong to and nothing more."""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.permissions import BasePermission

from .models import Membership, Project


def role_in(user, project) -> str | None:
    """'admin', 'lead', 'annotator' or None."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return "admin"
    known = getattr(project, "_roles", None)  # set by project_for: one lookup per request
    if known is not None and user.pk in known:
        return known[user.pk]
    membership = Membership.objects.filter(user=user, project=project).only("role").first()
    return membership.role if membership else None


def with_roles(user, projects) -> list:
    """``projects`` as a list, each carrying the user's role for role_in: one query for all (else
    role_in asks once per project, on the home page and the project list)."""
    projects = list(projects)
    if user.is_authenticated and not user.is_superuser:
        roles = dict(Membership.objects.filter(user=user, project__in=[p.pk for p in projects])
                     .values_list("project_id", "role"))
        for project in projects:
            project._roles = {user.pk: roles.get(project.pk)}
    return projects


def visible_projects(user):
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def can_view(user, project) -> bool:
    return role_in(user, project) is not None


def can_manage(user, project) -> bool:
    """Configure labels, sources, rules and waves; see dashboards; export."""
    return role_in(user, project) in {"admin", "lead"}


# The one 404 for a project that does not exist and for one the user is not part of: a different
# answer would tell outsiders which slugs are taken.
NO_SUCH_PROJECT = "No such project."


def project_or_404(slug: str) -> Project:
    """The project, or the same 404 that hides a project from non-members (for views that check
    membership themselves)."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise Http404(NO_SUCH_PROJECT)
    return project


def project_for(user, slug: str, *, manage: bool = False) -> Project:
    """The project if the user may see (or, with manage=True, configure) it; 404 hides projects
    the user is not part of, 403 tells a member they lack the role."""
    project = project_or_404(slug)
    role = role_in(user, project)
    project._roles = {user.pk: role}  # later checks in the same request (can_manage, …) reuse it
    if role is None:
        raise Http404(NO_SUCH_PROJECT)
    if manage and role not in {"admin", "lead"}:
        raise PermissionDenied("Only the project's leads and admins may do this.")
    return project


def former_member_project(user, slug: str) -> Project | None:
    """The project named by ``slug`` when the user, no longer part of it, once held an item of it
    (a lease or an answer): a removed member, whom the annotation API tells why it refuses them. For
    anyone else None, so that the 404 keeps hiding which projects exist."""
    if not user.is_authenticated:
        return None
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        return None
    if project.waves.filter(picks__assignments__annotator=user).exists() or project.annotations.filter(
            annotator=user).exists():
        return project
    return None


class IsProjectMember(BasePermission):
    """DRF: the view's ``get_project()`` must be visible; unsafe methods need a lead when
    the view sets ``lead_required_for_writes``."""

    def has_permission(self, request, view):
        project = view.get_project()
        if getattr(view, "lead_required", False) or (
            request.method not in ("GET", "HEAD", "OPTIONS") and getattr(view, "lead_required_for_writes", False)
        ):
            return can_manage(request.user, project)
        return can_view(request.user, project)
