"""REST API of the wave control room: waves (list, current, composition, plan, open, close),
model versions, retrain, and the dashboard's data. Same rules as the waves page: members read,
leads and admins act."""
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.loop.runs import task_run_dict
from labeling.loop.triggers import planning_blocker, queue_failed, request_final_model, request_retrain
from labeling.modeling.models import ModelVersion
from labeling.waves import selectors as wave_selectors
from labeling.waves import services as waves
from labeling.waves.models import Wave

from . import dashboard, selectors
from .api import ProjectScoped, as_drf_error
from .models import Label
from .serializers import RefuseUnknownFields


# --- waves -------------------------------------------------------------------------------------
class WaveList(ProjectScoped, generics.GenericAPIView):
    def get_queryset(self):
        # The version's number only (wave_dict): its row carries the model's whole metrics.
        return (Wave.objects.filter(project=self.get_project())
                .annotate(model_version_number=F("model_version__number")).order_by("-number"))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([selectors.wave_dict(w) for w in page])


class WaveCurrent(ProjectScoped, APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="No current wave.")})
    def get(self, request, slug):
        wave = wave_selectors.working_wave(self.get_project())
        if wave is None:
            return Response({"detail": "This project has no open or planned wave."}, status=404)
        return Response(selectors.wave_dict(wave))


class WaveComposition(ProjectScoped, APIView):
    """source × strategy × predicted label counts of one wave."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug, number):
        wave = get_object_or_404(Wave, project=self.get_project(), number=number)
        return Response({"wave": wave.number, "rows": wave_selectors.composition_rows(wave),
                         "planner": wave_selectors.wave_composition(wave)})


def _loop_response(action):
    try:
        return action()
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from exc
    except ValueError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


class NoFieldsSerializer(RefuseUnknownFields, serializers.Serializer):
    """The body of an action that takes no fields: empty, or 400 naming each key sent. Without it a
    misspelt option (waves/plan/ with {"sise": 3}) was dropped and the action ran as if unsent."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {key: [f"Unknown field “{key}”; this request takes no fields."]
                      for key in data if key not in self.NOT_FIELDS}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def take_no_fields(request) -> None:
    NoFieldsSerializer(data=request.data).is_valid(raise_exception=True)


class WaveCloseSerializer(RefuseUnknownFields, serializers.Serializer):
    retrain = serializers.BooleanField(
        required=False, default=False,
        help_text="Then retrain on every label so far; when the retrain finishes it plans and opens the next "
                  "wave with the new model (not a cold start). The run is in the answer's retrain.")


class WaveClose(ProjectScoped, APIView):
    """Close a wave by hand: its unanswered items go back to the pool. Live leases stay answerable
    until they expire and their answers count (``live_leases``, ``leases_note``). With retrain=true the close
    also starts the retrain pipeline (embed, train, score, plan), as a completed wave does."""

    @extend_schema(request=WaveCloseSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, slug, number):
        wave = get_object_or_404(Wave, project=self.get_project(), number=number)
        options = WaveCloseSerializer(data=request.data)
        options.is_valid(raise_exception=True)

        def action():
            if wave.state == Wave.CLOSED:
                raise ValueError(f"Wave {wave.number} is already closed.")
            waves.close_wave(wave)
            live = wave.live_leases
            wave.refresh_from_db()
            body = selectors.wave_dict(wave)
            body["live_leases"] = live
            body["leases_note"] = wave_selectors.close_note(wave)
            if options.validated_data["retrain"]:
                run = request_retrain(self.get_project(), reason="wave_closed")
                run.refresh_from_db()
                body["retrain"] = task_run_dict(run)
            return Response(body)

        return _loop_response(action)


class WaveOpen(ProjectScoped, APIView):
    """Open a planned wave for annotators (one open wave per project)."""

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, slug, number):
        wave = get_object_or_404(Wave, project=self.get_project(), number=number)
        take_no_fields(request)

        def action():
            waves.open_wave(wave)
            wave.refresh_from_db()
            return Response(selectors.wave_dict(wave))

        return _loop_response(action)


class WavePlan(ProjectScoped, APIView):
    """Plan the next wave now; it opens at once when no other wave is open."""

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        take_no_fields(request)

        def action():
            project = self.get_project()
            busy = planning_blocker(project)
            if busy:
                raise ValueError(busy)
            wave = waves.plan_next_wave(project)
            waves.open_wave_if_idle(project, wave)
            wave.refresh_from_db()
            return Response(selectors.wave_dict(wave), status=201)

        return _loop_response(action)


# --- models, tasks -------------------------------------------------------------------------------
class ModelList(ProjectScoped, generics.GenericAPIView):
    """Model versions with their metrics, newest first; without the parts that grow with labels ×
    labels (confusion matrices, PR curves, reliability bins): GET models/<number>/ has them."""

    def get_queryset(self):
        return ModelVersion.objects.filter(project=self.get_project()).defer("artifact").order_by("-number")

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        page = self.paginate_queryset(self.get_queryset())
        labels = dict(Label.objects.filter(project=self.get_project()).values_list("id", "name"))
        return self.get_paginated_response([selectors.model_version_dict(v, labels, full=False) for v in page])


class ModelDetail(ProjectScoped, APIView):
    """One model version with its whole report."""

    @extend_schema(operation_id="projects_models_version_retrieve",
                   responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="No such version.")})
    def get(self, request, slug, number):
        project = self.get_project()
        version = get_object_or_404(ModelVersion.objects.defer("artifact"), project=project, number=number)
        labels = dict(Label.objects.filter(project=project).values_list("id", "name"))
        return Response(selectors.model_version_dict(version, labels))


class ModelRetrain(ProjectScoped, APIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        take_no_fields(request)

        def action():
            task = request_retrain(self.get_project(), reason="manual")
            task.refresh_from_db()  # run in-process (no broker), it has finished already
            if queue_failed(task):
                # Not queued (the broker is unreachable): say so instead of "Queued".
                why = task.message.removeprefix("Retrain failed: ")  # an in-process failure says it already
                return Response({"detail": f"Retrain failed (task {task.pk}): {why}",
                                 "task": task_run_dict(task)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
            return Response(task_run_dict(task), status=202)

        return _loop_response(action)


class ModelFinal(ProjectScoped, APIView):
    """Train the final model: the encoder fine-tuned on the labels, then head, calibration and
    thresholds (a TaskRun of kind final_model; on the train queue). It becomes the active model
    only when its out-of-fold macro-F1 beats the frozen model's. 409 while a retrain runs."""

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        take_no_fields(request)

        def action():
            task = request_final_model(self.get_project())
            task.refresh_from_db()  # run in-process (no broker), it has finished already
            if queue_failed(task):  # as a retrain says it: not queued, not "accepted"
                return Response({"detail": f"Final model failed (task {task.pk}): {task.message}",
                                 "task": task_run_dict(task)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
            return Response(task_run_dict(task), status=202)

        return _loop_response(action)


class DashboardData(ProjectScoped, APIView):
    lead_required = True

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        return Response(dashboard.dashboard_data(self.get_project()))
