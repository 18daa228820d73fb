"""Lead pages of the item browser: the filtered, searchable list with bulk actions, and one
item's page. The list uses the API's filter set and keyset paginator, so the page and
/api/projects/<slug>/items/ answer the same query string with the same rows."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

from labeling.projects.permissions import project_for

from . import browse, bulk, narrowing, neighbours, story
from .filters import MODEL_CHANGED, ItemFilterSet
from .models import Item
from .paging import ItemCursorPagination


def _relative(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# The filter form's fields in the order a lead narrows things down.
FIELD_ORDER = ["state", "label", "source", "predicted", "min_confidence", "max_confidence", "wave", "strategy",
               "annotator", "answer_label", "dup_group", "excluded", "pinned", "sort"]


def _with_count(request) -> str:
    query = request.GET.copy()
    query.pop("cursor", None)
    query["count"] = "true"
    return f"{request.path}?{query.urlencode()}"


def count_text(count: int | None, capped: bool) -> str:
    if count is None:
        return ""
    if capped:
        return f"More than {count:,} items match"
    return f"{count:,} item matches" if count == 1 else f"{count:,} items match"


def _first_page(request) -> str:
    """This list's first page: the same filters and sort, without the page link's cursor."""
    query = request.GET.copy()
    query.pop("cursor", None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


# The API's 404 says the same (filters.MODEL_CHANGED); the page sends the first page rather than an error.
WALK_PRUNED = ("The model these pages were sorted or filtered by has been replaced and its scores deleted, so that "
               "page link is no longer valid; here is the first page again, by the model active now.")


def walk_version(filterset: ItemFilterSet, active):
    """Whose figures the Predicted column shows: on a page sorted or filtered by prediction, the
    version that chose and ordered its rows (a later page of a walk keeps the version it began with,
    across a retrain), so that a row filtered "predicted fraud, at most 0.5" never reads "billing
    0.90"; on any other page, the active model's."""
    if filterset.is_bound and filterset.reads_scores():
        return filterset.active_version()  # no page link: the active model's; else the cursor's
    return active


def browse_page(request, slug):
    project = project_for(request.user, slug, manage=True)
    filterset = ItemFilterSet(request.GET or None, queryset=browse.pool(project), project=project)
    active = browse.active_version(project)
    context = {"project": project, "section": "items", "filter": filterset, "form": filterset.form,
               "fields": [filterset.form[name] for name in FIELD_ORDER],
               "active_model": active, "shown_model": active, "rows": [], "actions": bulk.ACTIONS, "count": None}
    if filterset.is_bound and not filterset.is_valid():
        return render(request, "items/browse.html", context, status=400)
    paginator = ItemCursorPagination()
    try:
        with narrowing.pinned_plans():
            queryset = filterset.qs if filterset.is_bound else browse.pool(project)
            page = paginator.paginate_queryset(queryset, Request(request))
            narrowing.page_read()
            version = walk_version(filterset, active)
            rows = browse.decorate(project, page, version)
    except ValidationError as exc:  # a bad count=… or page_size=… value (an edited link)
        context["count_error"] = " ".join(str(m) for field in ("count", "page_size") for m in exc.detail.get(field, []))
        return render(request, "items/browse.html", context, status=400)
    except narrowing.SearchTooSlow as exc:
        context["slow_error"] = str(exc)
        return render(request, "items/browse.html", context, status=503)
    except NotFound as exc:  # a cursor from an edited or outdated link, or of a model pruned since
        messages.info(request, WALK_PRUNED if str(exc.detail) == MODEL_CHANGED else
                      "That page link is no longer valid; here is the first page.")
        return redirect(_first_page(request))
    if version is None and filterset.sort_key.startswith("confidence"):
        # The confidence sorts list scored items only, so the page is empty until a model is
        # active; say so rather than leave "No item matches" to suggest the filters are wrong.
        messages.info(request, "Sorting by confidence lists only the items the active model has scored, and there "
                               "is no active model yet. Sort by newest or oldest to see every item.")
    context.update(
        shown_model=version, restart_url=_first_page(request), walk_orders=filterset.sort_key.startswith("confidence"),
        rows=rows, count=paginator.count, count_capped=paginator.count_capped,
        next_url=_relative(paginator.get_next_link()), previous_url=_relative(paginator.get_previous_link()),
        here=request.get_full_path(), count_text=count_text(paginator.count, paginator.count_capped),
        count_url=_with_count(request),
    )
    return render(request, "items/browse.html", context)


@require_POST
def bulk_action(request, slug):
    project = project_for(request.user, slug, manage=True)
    browse_url = reverse("items:browse", kwargs={"slug": project.slug})
    back = request.POST.get("next") or browse_url
    if not back.startswith(browse_url):  # only back to this project's browser, never elsewhere
        back = browse_url
    try:
        result = bulk.apply(project, request.POST.get("action", ""), request.POST.getlist("item"), request.user)
    except bulk.BulkError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, result.message)
    return redirect(back)


def metadata_rows(metadata) -> list[tuple[str, str]]:
    """Import metadata as (key, text) rows; nested values shown as JSON (escaped by the template)."""
    if not isinstance(metadata, dict):
        return [("metadata", json.dumps(metadata, ensure_ascii=False))] if metadata else []
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in metadata.items()]


def item_page(request, slug, item_id):
    project = project_for(request.user, slug, manage=True)
    item = get_object_or_404(Item.objects.select_related("source"), project=project, id=item_id)
    data = story.item_story(project, item)
    return render(request, "items/item.html", {
        "project": project, "section": "items", "item": item, "story": data,
        "state_name": browse.STATE_MEANINGS.get(data["state"], data["state"]),
        "state_label": data["state"].replace("_", " "), "metadata_rows": metadata_rows(data["metadata"]),
        "neighbours": neighbours.neighbours(project, item), "actions": bulk.ACTIONS,
        "back": request.GET.get("back", "") if request.GET.get("back", "").startswith(
            reverse("items:browse", kwargs={"slug": project.slug})) else "",
    })
