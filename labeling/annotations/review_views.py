"""The review queue page (leads and admins): open tasks grouped by the model's label, worked from
the keyboard (static/js/review/main.js over the bulk API); the forms post here and work without
JavaScript too (a label chosen on a card posts action relabel, recorded as the script's relabel is)."""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_http_methods

from labeling.modeling.review import routing_report
from labeling.projects.hotkeys import REVIEW_KEYS
from labeling.projects.label_names import spelled_out
from labeling.projects.permissions import project_for

from . import review_selectors, review_services, selectors, services
from .models import ReviewTask

LEAD_NAV = "projects/_lead_nav.html"
PAGE_LIMIT = 200
# A page whose cards' label lists would hold more options than this lists the labels once (a
# <template> that static/js/review/main.js copies into a card's list when the lead opens it): a
# full list in every card made the page cards x labels (286 labels, 200 cards: 57,400 options, 4 MB).
INLINE_OPTIONS = 2000
LABEL_CHOICES_ID = "review-label-choices"
FILTERS = [("", "all"), (ReviewTask.DISAGREEMENT, "disagreements"), (ReviewTask.LOW_CONFIDENCE, "low confidence"),
           (ReviewTask.LABEL_ISSUE, "label issues"), (ReviewTask.LEAD_REQUEST, "sent by a lead")]
# The page's own keys (and "?" for the key list) are never a label's relabel key here.
PAGE_KEYS = {*REVIEW_KEYS, "?"}


@require_http_methods(["GET", "POST"])
def review_page(request, slug):
    project = project_for(request.user, slug, manage=True)
    if request.method == "POST":
        _post(request, project)
        return redirect(request.get_full_path())
    reason = request.GET.get("reason")
    reason = reason if reason in dict(ReviewTask.REASONS) else None
    data = review_selectors.review_groups(project, reason=reason, limit=PAGE_LIMIT)
    label_choices = [{"id": label["id"], "name": label["full_name"]} for label in data["labels"]]
    hotkeys = [{"id": label["id"], "name": label["full_name"], "key": label["hotkey"].lower()}
               for label in data["labels"] if label["hotkey"] and label["hotkey"].lower() not in PAGE_KEYS]
    hotkeys.sort(key=lambda h: h["key"])
    inline = len(label_choices) * data["shown"] <= INLINE_OPTIONS
    # Without the script a lead opens one card's list through ?relabel=<task>: that card gets it inline.
    opened = request.GET.get("relabel", "")
    for group in data["groups"]:
        for task in group["tasks"]:
            task.inline_labels = inline or str(task.pk) == opened
    config = {"bulkUrl": f"/api/projects/{project.slug}/review/bulk/", "hotkeys": hotkeys}
    return render(request, "annotations/review.html", {
        "project": project, "groups": data["groups"], "shown": data["shown"], "open": data["open"],
        "label_choices": label_choices, "label_choices_id": None if inline else LABEL_CHOICES_ID,
        "hotkeys": hotkeys, "reason": reason or "", "filters": FILTERS,
        "counts": selectors.review_counts(project), "lead_nav": _optional_template(LEAD_NAV),
        "agreement": selectors.agreement_summary(project), "config": config, "page_limit": PAGE_LIMIT,
        "routing": routing_report(project),
    })


def _post(request, project) -> None:
    action = request.POST.get("action")
    if action:
        try:
            tasks = [int(t) for t in request.POST.getlist("task")]
            label = request.POST.get("label")
            result = review_services.bulk_review(project, request.user, action=action, task_ids=tasks,
                                                 label_id=int(label) if label else None,
                                                 shown=_shown(request.POST, tasks))
        except ValueError:
            messages.error(request, "task, label and shown_model_version must be ids.")
        except services.AnnotationError as exc:
            messages.error(request, exc.message)
        else:
            done = len(result.done)
            # A relabel names its label, as the page's status line does.
            what = f"Relabel as {spelled_out(result.label)}" if result.label else action.capitalize()
            messages.success(request, f"{what}: {done} task{'s' if done != 1 else ''} done.")
            for skip in result.skipped:
                if skip["code"] == review_services.CLOSED_MEANWHILE:
                    messages.warning(request, f"Task {skip['task']} {skip['reason']}.")
                else:
                    messages.warning(request, f"Task {skip['task']} left open: {skip['reason']}.")
        return
    try:
        task = review_services.resolve_review(project, request.user, task_id=request.POST.get("task"),
                                       label_id=request.POST.get("label"))
    except services.AnnotationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Item {task.item_id} resolved as {spelled_out(task.resolved_label.name)}.")


def _shown(post, tasks: list[int]) -> list[dict] | None:
    """What a card's form showed (``shown_label``, ``shown_model_version``, one pair per ``task``
    in the same order); None when the form sent none, which the service refuses for accept and
    dismiss (a page rendered before the field existed)."""
    if "shown_label" not in post:
        return None
    versions = post.getlist("shown_model_version")
    return [{"task": task, "label": label or None,
             "model_version": int(versions[i]) if i < len(versions) and versions[i] else None}
            for i, (task, label) in enumerate(zip(tasks, post.getlist("shown_label"), strict=False))]


def _optional_template(name: str) -> str | None:
    """The lead pages' shared navigation, when that part of the app is installed."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name
