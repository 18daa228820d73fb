"""Pages: the annotation page (members); the review queue is ``review_views``."""
from django.conf import settings
from django.shortcuts import render

from labeling.projects.permissions import can_manage, project_for, role_in

from . import selectors, services


def annotate_page(request, slug):
    """The page renders the annotator's held batch from embedded JSON, answers locally and submits
    in the background (static/js/annotate/main.js); "Start" leases through the API."""
    project = project_for(request.user, slug)
    is_lead = can_manage(request.user, project)
    held = selectors.held_batch(project, request.user)
    labels = selectors.labels_payload(project)
    has_other = any(label["is_other"] and label["parent"] is None for label in labels)
    config = {
        "project": project.slug,
        "leaseUrl": f"/api/projects/{project.slug}/batches/",
        "answerUrl": f"/api/projects/{project.slug}/annotations/",
        "undoUrl": f"/api/projects/{project.slug}/annotations/undo/",
        "renewUrl": f"/api/projects/{project.slug}/batches/renew/",
        "leaseSeconds": settings.LONGTAIL_LEASE_SECONDS,
        "labels": labels,
        "builtinOther": None if has_other else {"name": services.OTHER_LABEL_NAME, "hotkey": "0"},
        "showWhy": is_lead,
        "batch": [selectors.assignment_payload(a, with_reasons=is_lead) for a in held],
        "progress": selectors.wave_progress(project),
    }
    return render(request, "annotations/annotate.html", {
        "project": project, "role": role_in(request.user, project), "is_lead": is_lead,
        "labels": labels, "config": config,
    })
