"""Pages: the annotation page (members) and the adjudication queue (leads and admins)."""
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_http_methods

from labeling.projects.hotkeys import NONE_KEY, PAGE_KEYS
from labeling.projects.permissions import can_manage, project_for, role_in

from . import context, history_selectors, selectors, services, waiting
from .models import ReviewTask

LEAD_NAV = "projects/_lead_nav.html"


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
    batch = context.enrich(project, [selectors.assignment_payload(a, with_reasons=is_lead) for a in held])
    answered = context.enrich(project, history_selectors.batch_answered(project, request.user, held))
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
        "batch": batch,
        "batchAnswered": answered,
        "progress": selectors.wave_progress(project),
        "changeUrl": f"/api/projects/{project.slug}/annotations/change/",
        "historyUrl": f"/api/projects/{project.slug}/annotations/history/",
        "history": history_selectors.recent_answers(project, request.user),
        "noneKey": none_key,
        "suggestions": project.show_suggestions,
        "waiting": None if held else waiting.why_waiting(project, request.user),
    }
    keys = [(none_key or "—") if k == NONE_KEY else k for k, _ in PAGE_KEYS]
    return render(request, "annotations/annotate.html", {
        "project": project, "role": role_in(request.user, project), "is_lead": is_lead,
        "labels": labels, "config": config, "none_key": none_key,
        "page_keys": [(k, what) for k, (_, what) in zip(keys, PAGE_KEYS, strict=True)],
    })


@require_http_methods(["GET", "POST"])
def review_page(request, slug):
    project = project_for(request.user, slug, manage=True)
    if request.method == "POST":
        try:
            task = services.resolve_review(
                project, request.user, task_id=request.POST.get("task"), label_id=request.POST.get("label")
            )
        except services.AnnotationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Item {task.item_id} resolved as “{task.resolved_label.name}”.")
        return redirect(request.get_full_path())
    reason = request.GET.get("reason")
    reason = reason if reason in dict(ReviewTask.REASONS) else None
    tasks = selectors.review_queue(project, reason=reason, limit=50)
    labels = selectors.labels_payload(project)
    selectors.add_proposals(tasks, labels)
    label_choices = [{"id": label["id"], "name": label["full_name"]} for label in labels]
    return render(request, "annotations/review.html", {
        "project": project, "tasks": tasks, "label_choices": label_choices, "reason": reason,
        "counts": selectors.review_counts(project), "lead_nav": _optional_template(LEAD_NAV),
        "agreement": selectors.agreement_summary(project),
    })


def _optional_template(name: str) -> str | None:
    """The lead pages' shared navigation, when that part of the app is installed."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name
