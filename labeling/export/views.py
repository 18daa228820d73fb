"""Export page and downloads (leads and admins)."""
from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from labeling.modeling.versions import active_model
from labeling.projects.permissions import project_for

from . import services
from .formats import FORMATS
from .formats.csv_format import COLUMNS


def labels_download(project, fmt: str, *, include_duplicates: bool) -> StreamingHttpResponse:
    if fmt not in FORMATS:
        raise Http404(f"Unknown export format {fmt!r}.")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        services.stream_export(project, fmt, include_duplicates=include_duplicates),
        content_type=FORMATS[fmt].content_type)
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-labels-{stamp}.{fmt}"'
    return response


def model_download(project):
    """(response, None) or (None, reason)."""
    version = active_model(project)
    if version is None:
        return None, "This project has no active model to export yet."
    try:
        data = services.model_bundle(project, version)
    except ValueError as exc:
        return None, str(exc)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-model-v{version.number}.zip"'
    return response, None


def export_page(request, slug):
    project = project_for(request.user, slug, manage=True)
    return render(request, "export/export.html", {
        "project": project, "section": "export", "active_model": active_model(project),
        "formats": list(FORMATS), "columns": COLUMNS})


def export_labels(request, slug, fmt):
    project = project_for(request.user, slug, manage=True)
    return labels_download(project, fmt, include_duplicates=request.GET.get("include_duplicates") in ("1", "on", "true"))


def export_model(request, slug):
    project = project_for(request.user, slug, manage=True)
    response, reason = model_download(project)
    if response is None:
        messages.error(request, reason)
        return redirect("project-export", slug=slug)
    return response
