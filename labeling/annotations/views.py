"""Pages: the annotation page (members); the review queue is ``review_views``."""
from django.conf import settings
from django.shortcuts import render

from labeling.projects.hotkeys import NONE_KEY, PAGE_KEYS
from labeling.projects.permissions import can_manage, project_for, role_in

from . import context, history_selectors, selectors, services


def annotate_page(request, slug):
    """The page renders the annotator's held batch from embedded JSON, answers locally and submits
    in the background (static/js/annotate/main.js); "Start" leases through the API."""
    project = project_for(request.user, slug)
    is_lead = can_manage(request.user, project)
    held = selectors.held_batch(project, request.user)
    labels = selectors.labels_payload(project)
    other = next((label for label in labels if label["is_other"] and label["parent"] is None), None)
    has_other = other is not None
    # The none-of-these key is the Other label's hotkey (the built-in answer's key without one);
    # the Keys panel and the page's button show this same key.
    none_key = other["hotkey"] if other else NONE_KEY
    budget = context.HighlightBudget(settings.LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS)  # one for the page's two lists
    batch = context.enrich(project, [selectors.assignment_payload(a, with_reasons=is_lead) for a in held], budget=budget)
    answered = context.enrich(project, history_selectors.batch_answered(project, request.user, held), budget=budget)
    config = {
        "project": project.slug,
        "leaseUrl": f"/api/projects/{project.slug}/batches/",
        "answerUrl": f"/api/projects/{project.slug}/annotations/",
        "undoUrl": f"/api/projects/{project.slug}/annotations/undo/",
        "renewUrl": f"/api/projects/{project.slug}/batches/renew/",
        "leaseSeconds": settings.LONGTAIL_LEASE_SECONDS,
        "labels": labels,
        "labelsVersion": selectors.labels_version(labels),  # answers send it back: a reply brings labels changed since
        "builtinOther": None if has_other else {"name": services.OTHER_LABEL_NAME, "hotkey": "0"},
        "showWhy": is_lead,
        "batch": batch,
        "batchAnswered": answered,
        "progress": selectors.wave_progress(project),
        "changeUrl": f"/api/projects/{project.slug}/annotations/change/",
        "historyUrl": f"/api/projects/{project.slug}/annotations/history/",
        "history": history_selectors.recent_answers(project, request.user),
        "noneKey": none_key,
        "suggestions": project.show_suggestions,
    }
    keys = [(none_key or "—") if k == NONE_KEY else k for k, _ in PAGE_KEYS]
    return render(request, "annotations/annotate.html", {
        "project": project, "role": role_in(request.user, project), "is_lead": is_lead,
        "labels": labels, "config": config, "none_key": none_key,
        "page_keys": [(k, what) for k, (_, what) in zip(keys, PAGE_KEYS, strict=True)],
    })
