"""Export over the API: the same files as the export page, with token or session auth."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.projects.permissions import project_for

from .views import labels_download, model_download


class ExportLabels(APIView):
    """Every labeled item with label, coarse label, annotators, agreement, wave, strategy,
    inclusion probability, duplicate group and a reproducible group-aware split (streamed)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("include_duplicates", bool, description=(
        "Also export unlabeled exact duplicates of labeled items with their label (label_source: duplicate)."))],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request, slug, fmt):
        project = project_for(request.user, slug, manage=True)
        include = request.query_params.get("include_duplicates", "").lower() in ("1", "true", "on", "yes")
        return labels_download(project, fmt, include_duplicates=include)


class ExportModel(APIView):
    """The active model as a zip bundle (head, temperature, thresholds, label map, metrics, README)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY, 409: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        project = project_for(request.user, slug, manage=True)
        response, reason = model_download(project)
        return response if response is not None else Response({"detail": reason}, status=409)
