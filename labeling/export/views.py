"""Export page and downloads (leads and admins): labeled items, and any trained model version."""
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from labeling.items.filters import YES_NO_ACCEPTED, yes_no_value
from labeling.modeling.versions import active_model
from labeling.projects.permissions import project_for

from . import bundle, services
from .formats import FORMATS
from .formats.csv_format import COLUMNS


class BadFlag(ValidationError):
    """A yes/no parameter of the download with a value that is not one: refused (400), where it was
    read as the default (include_duplicates=ture exported without the duplicates). A DRF validation
    error, so that the API answers {"include_duplicates": ["…"]} as for any bad parameter."""

    def __init__(self, name: str, raw: str):
        self.message = f"{name} must be one of {YES_NO_ACCEPTED}; got {raw!r}."
        super().__init__({name: [self.message]})


def flag(params, name: str, default: bool) -> bool:
    """The yes/no parameter ``name`` (absent or empty: ``default``), spelled as the item filters take it."""
    raw = params.get(name, "")
    if raw == "":
        return default
    value = yes_no_value(raw)
    if value is None:
        raise BadFlag(name, raw)
    return value


def labels_download(project, fmt: str, *, include_duplicates: bool,
                    neutralise_formulas: bool = True) -> StreamingHttpResponse:
    if fmt not in FORMATS:
        raise Http404(f"Unknown export format {fmt!r}.")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        services.stream_export(project, fmt, include_duplicates=include_duplicates,
                               neutralise_formulas=neutralise_formulas),
        content_type=FORMATS[fmt].content_type)
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-labels-{stamp}.{fmt}"'
    return response


def model_download(project, raw_version=None):
    """The zip of model version ``raw_version`` (a request's ``version`` parameter: any ready,
    active or retired version), else of the active model: (response, None), or (None, refusal)
    with the reason and the API's status."""
    try:
        version, data = bundle.export_version(project, bundle.parse_version_number(raw_version))
    except bundle.ExportRefused as refused:
        return None, refused
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-model-v{version.number}.zip"'
    return response, None


def export_page(request, slug):
    project = project_for(request.user, slug, manage=True)
    return render(request, "export/export.html", {
        "project": project, "section": "export", "active_model": active_model(project),
        "model_versions": list(bundle.exportable_versions(project)), "duplicates": services.duplicate_counts(project),
        "formats": list(FORMATS), "columns": COLUMNS, "formula_starts": "= + - @"})


def export_labels(request, slug, fmt):
    project = project_for(request.user, slug, manage=True)
    try:
        return labels_download(project, fmt, include_duplicates=flag(request.GET, "include_duplicates", False),
                               neutralise_formulas=flag(request.GET, "neutralise_formulas", True))
    except BadFlag as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")


def export_model(request, slug):
    project = project_for(request.user, slug, manage=True)
    response, refused = model_download(project, request.GET.get("version"))
    if response is None:
        messages.error(request, str(refused))
        return redirect("project-export", slug=slug)
    return response
