"""API of the items app: an import's progress (polled by the upload page) and the project's imports."""
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.projects.models import Project
from labeling.projects.permissions import IsProjectMember, role_in

from . import selectors
from .models import ImportBatch


class ImportBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportBatch
        fields = ["id", "filename", "state", "progress", "rows_total", "rows_imported", "rows_rejected",
                  "exact_duplicates", "near_duplicates", "created_at", "finished_at", "errors"]
        read_only_fields = fields


class _ProjectView(APIView):
    permission_classes = [IsProjectMember]
    lead_required = True  # imports are the leads' business

    def get_project(self):
        if not hasattr(self, "_project"):
            self._project = get_object_or_404(Project, slug=self.kwargs["slug"])
        return self._project

    def permission_denied(self, request, message=None, code=None):
        # Non-members must not learn that the project exists.
        if request.user.is_authenticated and role_in(request.user, self.get_project()) is None:
            raise Http404("No such project.")
        super().permission_denied(request, message, code)


class ImportList(_ProjectView):
    @extend_schema(operation_id="project_imports_list", summary="The project's 20 latest imports",
                   responses=ImportBatchSerializer(many=True))
    def get(self, request, slug):
        return Response(ImportBatchSerializer(selectors.recent_imports(self.get_project()), many=True).data)


class ImportDetail(_ProjectView):
    @extend_schema(operation_id="project_import_retrieve", summary="One import's state, progress, counts and per-row errors",
                   responses=ImportBatchSerializer)
    def get(self, request, slug, batch_id):
        batch = get_object_or_404(ImportBatch, project=self.get_project(), id=batch_id)
        return Response(ImportBatchSerializer(batch).data)
