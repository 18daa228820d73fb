"""Task progress API: what background work (import, embed, retrain...) a project has, and how far
along it is. Members of the project may read it; nobody else learns that it exists."""
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.modeling.models import TaskRun
from labeling.projects.permissions import can_view, project_for

from .runs import task_run_dict, task_runs


class ProjectTaskList(APIView):
    """The project's 50 most recent TaskRuns, newest first."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        project = project_for(request.user, slug)
        return Response({"results": [task_run_dict(run) for run in task_runs(project)]})


class TaskDetail(APIView):
    """One TaskRun: state, progress (0–1), message and detail."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk):
        run = TaskRun.objects.select_related("project").filter(pk=pk).first()
        if run is None or not can_view(request.user, run.project):
            raise Http404("No such task.")  # the same whether it is missing or another project's
        return Response(task_run_dict(run))
