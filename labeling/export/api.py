"""Export over the API: the same files as the export page, with token or session auth."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.projects.permissions import project_for
from labeling.projects.schema import ErrorSerializer

from .views import flag, labels_download, model_download


class ExportLabels(APIView):
    """Every labeled item with label, coarse label, annotators, agreement, wave, strategy,
    inclusion probability, duplicate group, a reproducible group-aware split, whether annotators
    disagree without an adjudication (disputed, with every vote), skip reasons and the item's
    metadata (streamed). The CSV neutralises cells a spreadsheet would run as formulas unless
    neutralise_formulas=false; the JSONL keeps everything as stored."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[
        OpenApiParameter("include_duplicates", bool, description=(
            "Also export unlabeled exact duplicates of labeled items with their label (label_source: duplicate).")),
        OpenApiParameter("neutralise_formulas", bool, default=True, description=(
            "CSV only: prefix ' to cells starting with =, +, -, @, tab or carriage return, so that spreadsheets "
            "show them as text (CSV injection). false writes every cell as stored, for trusted pipelines."))],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR,
                   400: OpenApiResponse(OpenApiTypes.OBJECT, description=(
                       "include_duplicates or neutralise_formulas is not true, false, True, False, 1 or 0: "
                       "{\"parameter\": [\"message\"]}."))})
    def get(self, request, slug, fmt):
        project = project_for(request.user, slug, manage=True)
        return labels_download(project, fmt, include_duplicates=flag(request.query_params, "include_duplicates", False),
                               neutralise_formulas=flag(request.query_params, "neutralise_formulas", True))


class ExportModel(APIView):
    """A model version as a zip bundle (head, temperature, thresholds, label map, metrics, README;
    a final model's fine-tuned encoder as encoder/): the active model, or ?version=N for any ready,
    active or retired version (a final model that was not served stays ready)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[
        OpenApiParameter("version", int, description=(
            "The model version number to export (ready, active or retired). Default: the active model."))],
        responses={(200, "application/zip"): OpenApiTypes.BINARY,
                   400: OpenApiResponse(ErrorSerializer, description="version is not a model version number."),
                   404: OpenApiResponse(ErrorSerializer, description=(
                       "No such project, the user is not a member, or the project has no such model version.")),
                   409: OpenApiResponse(ErrorSerializer, description=(
                       "Nothing to export: no active model, the version is training or failed, it has no stored "
                       "artifact, or it is a final model whose encoder folder is not on this host "
                       "(the reason says which).")),
                   410: OpenApiResponse(ErrorSerializer, description=(
                       "The version asked for was pruned (manage.py prune_models): its files are gone for good, "
                       "so asking again will not help (the reason says when)."))})
    def get(self, request, slug):
        project = project_for(request.user, slug, manage=True)
        response, refused = model_download(project, request.query_params.get("version"))
        return response if response is not None else Response({"detail": str(refused)}, status=refused.status)
