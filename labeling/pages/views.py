from django.shortcuts import render

from labeling.projects import selectors
from labeling.projects.permissions import project_for, role_in, visible_projects, with_roles
from labeling.projects.services import can_create_projects


def home(request):
    """The signed-in user's projects with their role in each."""
    projects = [{"project": project, "role": role_in(request.user, project)}
                for project in with_roles(request.user, visible_projects(request.user).order_by("name"))]
    return render(request, "pages/home.html", {"projects": projects,
                                               "can_create": can_create_projects(request.user)})


def project_overview(request, slug):
    """Everyone in the project: start labeling, wave progress, budget; leads get the tools."""
    project = project_for(request.user, slug)
    return render(request, "pages/overview.html", selectors.project_overview(project, request.user))


def project_dashboard(request, slug):
    """Charts are drawn by static/js/dashboard/main.js from /api/projects/<slug>/dashboard/."""
    project = project_for(request.user, slug, manage=True)
    return render(request, "dashboard/dashboard.html", {"project": project, "section": "dashboard"})
