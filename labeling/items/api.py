"""API of the items app: upload a file to import, an import's progress (polled by the upload page)
and the project's imports."""
from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.loop.triggers import start_upload_import
from labeling.projects.permissions import IsProjectMember, project_or_404, role_in
from labeling.projects.serializers import RefuseUnknownFields

from . import selectors, services
from .models import ImportBatch
from .uploads import size_limit_of


class ImportBatchSerializer(serializers.ModelSerializer):
    created_sources_note = serializers.CharField(read_only=True)
    # rows_imported counts items made only: a file of labels for items the project held reads 0 there.
    labels_attached = serializers.IntegerField(read_only=True, help_text=(
        "Labels the file brought to items the project already held (no item made for those rows)."))
    copied_labels_left_out = serializers.IntegerField(read_only=True, help_text=(
        "Labels an export had copied from a labeled twin (label_source 'duplicate') that were left out."))
    rows_left_out = serializers.IntegerField(read_only=True, help_text=(
        "Of those rows, the ones not imported at all, as the project held their item already."))
    note = serializers.CharField(read_only=True, help_text=(
        "The three counts above in words, as the import page says them; empty when all are 0."))

    class Meta:
        model = ImportBatch
        fields = ["id", "filename", "state", "progress", "rows_total", "rows_imported", "rows_rejected",
                  "exact_duplicates", "near_duplicates", "labels_attached", "copied_labels_left_out", "rows_left_out",
                  "note", "created_at", "finished_at", "errors", "waiting", "created_sources", "created_sources_note"]
        read_only_fields = fields


class ImportUploadSerializer(RefuseUnknownFields, serializers.Serializer):
    """A field it does not take (the command's spelling skip-invalid) answers 400 naming it: dropped,
    the import ran all-or-nothing while the lead had asked to keep the valid rows."""

    # An empty file is recorded as a failed import like any other bad file, with the importer's message.
    file = serializers.FileField(allow_empty_file=True,
                                 help_text="A CSV, TSV or JSONL file (UTF-8), at most LONGTAIL_MAX_UPLOAD_BYTES.")
    skip_invalid = serializers.BooleanField(
        required=False, default=False,
        help_text="Import the valid rows and keep the rejected ones with reasons (else: any bad row imports nothing).")


# The answer when an upload cannot be stored: `import` is the batch, failed with the same reason.
UPLOAD_NOT_STORED = inline_serializer("UploadNotStored", fields={
    "detail": serializers.CharField(help_text="Why the upload could not be stored; nothing was imported."),
    "import": ImportBatchSerializer(help_text="The import, recorded as failed with the same reason."),
})


class _ProjectView(APIView):
    permission_classes = [IsProjectMember]
    lead_required = True  # imports are the leads' business

    def get_project(self):
        if not hasattr(self, "_project"):
            self._project = project_or_404(self.kwargs["slug"])  # the same 404 whether missing or hidden
        return self._project

    def permission_denied(self, request, message=None, code=None):
        # Non-members must not learn that the project exists.
        if request.user.is_authenticated and role_in(request.user, self.get_project()) is None:
            raise Http404("No such project.")
        super().permission_denied(request, message, code)


class ImportList(_ProjectView):
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # The size limit (first in FILE_UPLOAD_HANDLERS) sees the upload's first byte, whoever reads
        # the body first (authentication's CSRF check included); the view reads its verdict.
        self.limiter = size_limit_of(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(operation_id="project_imports_list", summary="The project's 20 latest imports",
                   responses=ImportBatchSerializer(many=True))
    def get(self, request, slug):
        return Response(ImportBatchSerializer(selectors.recent_imports(self.get_project()), many=True).data)

    @extend_schema(
        operation_id="project_imports_create", summary="Upload a file to import (as the import page does)",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={202: OpenApiResponse(ImportBatchSerializer, description=(
            "The import was recorded and queued (or, over the size limit, refused: state 'failed'). Poll "
            "the URL in the Location header until state is 'done' or 'failed'; errors name file, line and field.")),
            503: OpenApiResponse(UPLOAD_NOT_STORED, description=(
                "The upload could not be stored on the server (storage missing or not writable): `detail` says "
                "why; the import is recorded as failed, nothing was imported.")),
            507: OpenApiResponse(UPLOAD_NOT_STORED, description=(
                "The server's disk (or quota) is full: the upload was not stored; the import is recorded as failed."))},
    )
    def post(self, request, slug):
        project = self.get_project()
        data = request.data  # parses the body, through the size limit
        if self.limiter.too_big is not None:
            name, size = self.limiter.too_big
            return self._accepted(services.reject_upload(project, name, size, request.user, at_least=True))
        upload = ImportUploadSerializer(data=data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        if file.size > settings.LONGTAIL_MAX_UPLOAD_BYTES:
            return self._accepted(services.reject_upload(project, file.name, file.size, request.user))
        try:
            batch, path = services.save_upload(project, file, request.user)
        except services.UploadNotStored as refused:
            # The server's fault, not the request's: 507 for a full disk, else 503 (try again later).
            answer = status.HTTP_507_INSUFFICIENT_STORAGE if refused.disk_full else status.HTTP_503_SERVICE_UNAVAILABLE
            return Response({"detail": refused.message, "import": ImportBatchSerializer(refused.batch).data}, status=answer)
        start_upload_import(batch, path, skip_invalid=upload.validated_data["skip_invalid"])
        batch.refresh_from_db()  # without a broker the import has run already
        return self._accepted(batch)

    def _accepted(self, batch: ImportBatch) -> Response:
        location = f"/api/projects/{batch.project.slug}/imports/{batch.id}/"
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class ImportDetail(_ProjectView):
    @extend_schema(operation_id="project_import_retrieve", summary="One import's state, progress, counts and per-row errors",
                   responses=ImportBatchSerializer)
    def get(self, request, slug, batch_id):
        batch = get_object_or_404(ImportBatch, project=self.get_project(), id=batch_id)
        return Response(ImportBatchSerializer(batch).data)
