from django.shortcuts import render

from labeling.projects.permissions import role_in, visible_projects


def home(request):
    """The signed-in user's projects with their role in each."""
    projects = [
        {"project": p, "role": role_in(request.user, p)}
        for p in visible_projects(request.user).order_by("name")
    ]
    return render(request, "pages/home.html", {"projects": projects})
