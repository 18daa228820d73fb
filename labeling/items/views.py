"""Pages of the items app: the lead's import page and one import's progress."""
from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from labeling.loop.triggers import start_upload_import
from labeling.projects.models import MAX_TEXT_CHARS_CEILING
from labeling.projects.permissions import project_for

from . import selectors, services
from .forms import ImportForm
from .models import ImportBatch
from .uploads import size_limit_of


@csrf_exempt  # only so that the upload handler can be added before the body is read; see below
def import_page(request, slug):
    # Roles are checked before a byte of the upload is read.
    project = project_for(request.user, slug, manage=True)
    return _import_page(request, project, size_limit_of(request))


@csrf_protect
def _import_page(request, project, limiter):
    if request.method == "POST" and limiter.too_big is None:
        request.POST  # noqa: B018 - parse the body now, so that an oversized file is noticed
    if request.method == "POST" and limiter.too_big is not None:
        name, size = limiter.too_big
        batch = services.reject_upload(project, name, size, request.user, at_least=True)
        return redirect("items:import-detail", slug=project.slug, batch_id=batch.id)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.LONGTAIL_MAX_UPLOAD_BYTES:
            batch = services.reject_upload(project, upload.name, upload.size, request.user)
        else:
            try:
                batch, path = services.save_upload(project, upload, request.user)
            except services.UploadNotStored as refused:  # its page shows the import failed, with the cause
                return redirect("items:import-detail", slug=project.slug, batch_id=refused.batch.id)
            start_upload_import(batch, path, skip_invalid=form.cleaned_data["skip_invalid"])
        return redirect("items:import-detail", slug=project.slug, batch_id=batch.id)
    return render(request, "items/import.html", {
        "project": project, "form": form, "imports": selectors.recent_imports(project),
        "max_upload_mb": settings.LONGTAIL_MAX_UPLOAD_BYTES / (1024 * 1024),
        "max_chars": min(project.max_text_chars or settings.LONGTAIL_MAX_TEXT_CHARS, MAX_TEXT_CHARS_CEILING),
    })


def import_detail(request, slug, batch_id):
    project = project_for(request.user, slug, manage=True)
    batch = get_object_or_404(ImportBatch, project=project, id=batch_id)
    return render(request, "items/import_detail.html", {
        "project": project, "batch": batch, "has_rejects": selectors.rejects_file(batch) is not None,
        # rows to fix, or a failure of the whole upload (storage, size, interruption: no line)
        "row_errors": any(e.get("line") is not None for e in batch.errors or [] if isinstance(e, dict)),
    })


def import_rejects(request, slug, batch_id):
    project = project_for(request.user, slug, manage=True)
    batch = get_object_or_404(ImportBatch, project=project, id=batch_id)
    path = selectors.rejects_file(batch)
    if path is None:
        raise Http404("This import has no rejected rows (or has not ended yet).")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"{batch.filename}.rejects.csv",
                        content_type="text/csv")
