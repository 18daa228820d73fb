"""REST API for everything the project and lead pages do. Same rules as the pages: members read,
leads and admins write; a project the user is not part of answers 404."""
from contextlib import contextmanager
from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.items.import_lock import SourcesBusy, lock_sources_for_change, sources_change_atomic
from labeling.modeling.final import EncoderFolderMissing
from labeling.modeling.predict import predict_texts
from labeling.modeling.text_window import window_fields
from labeling.modeling.versions import active_model

from . import selectors, services
from .membership import remove_member, set_member
from .models import Label, Membership, Project, Rule, Source
from .permissions import can_manage, project_for, visible_projects, with_roles
from .serializers import (
    LabelSerializer,
    MembershipSerializer,
    PredictSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    RulePreviewSerializer,
    RuleSerializer,
    SourceSerializer,
)
from .throttles import UserScopedRateThrottle, one_call_at_a_time, refund_rate


def as_drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"non_field_errors": exc.messages})


@contextmanager
def service_errors():
    """A service's refusal (Django's ValidationError) answers DRF's 400 with the same fields."""
    try:
        yield
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from exc


class ProjectScoped:
    """Mixin: the project comes from the URL; reads need membership, writes (or everything, with
    lead_required) need a lead or admin."""

    permission_classes = [IsAuthenticated]
    lead_required = False
    member_writes = False  # True where a member's POST is a read (predict)

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            write = self.request.method not in ("GET", "HEAD", "OPTIONS") and not self.member_writes
            manage = self.lead_required or write
            self._project = project_for(self.request.user, self.kwargs["slug"], manage=manage)
        return self._project

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.get_project()  # 404 / 403 before any work

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "project": self.get_project()}


# --- projects --------------------------------------------------------------------------------
# What services.create_project takes; the rest of a creation's fields are settings.
CREATE_ARGUMENTS = ("slug", "name", "description", "labels", "sources", "other_label")


class ProjectListCreate(generics.ListCreateAPIView):
    """Projects the user can see; admins and leads may create one (and become its lead)."""

    permission_classes = [IsAuthenticated]
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return visible_projects(self.request.user).order_by("name")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)  # each row's role read once for the page, not per row
        return with_roles(self.request.user, queryset if page is None else page)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request, *args, **kwargs):
        if not services.can_create_projects(request.user):
            raise PermissionDenied("Only admins and project leads may create projects.")
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data)
        created = {name: given.pop(name) for name in CREATE_ARGUMENTS if name in given}
        with service_errors():
            with transaction.atomic():  # settings that fail their save leave no project behind
                project = services.create_project(request.user, **created)
                if given:  # the settings sent with it, saved as a PATCH saves them
                    project = services.update_settings(project, given)
        return Response(ProjectSerializer(project, context={"request": request}).data, status=201)


class ProjectDetail(ProjectScoped, generics.GenericAPIView):
    serializer_class = ProjectSerializer

    def get(self, request, slug):
        return Response(self.get_serializer(self.get_project()).data)

    def patch(self, request, slug):
        project = self.get_project()
        serializer = self.get_serializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            project = services.update_settings(project, serializer.validated_data)
        return Response(self.get_serializer(project).data)


# --- labels ------------------------------------------------------------------------------------
class LabelList(ProjectScoped, generics.ListCreateAPIView):
    serializer_class = LabelSerializer

    def get_queryset(self):
        return Label.objects.filter(project=self.get_project()).order_by("order", "name")

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = services.save_label(self.get_project(), **serializer.validated_data)


@extend_schema_view(delete=extend_schema(responses={204: None, 200: inline_serializer("LabelDeleted", {
    "deleted": serializers.CharField(), "rules_deleted": serializers.ListField(child=serializers.CharField()),
    "detail": serializers.CharField()})}))
class LabelDetail(ProjectScoped, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = LabelSerializer

    def get_queryset(self):
        return Label.objects.filter(project=self.get_project())

    def perform_update(self, serializer):
        with service_errors():
            serializer.instance = services.save_label(self.get_project(), serializer.instance,
                                                      **serializer.validated_data)

    def destroy(self, request, *args, **kwargs):
        """204; or 200 with ``rules_deleted`` and ``detail`` when the label's rules went with it
        (Rule.label cascades): they are the lead's work, and the answer names each one."""
        label = self.get_object()
        with service_errors():
            rules = services.delete_label(label)
        if not rules:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"deleted": label.name, "rules_deleted": rules,
                         "detail": services.rules_gone_text(label.name, rules)})


# --- sources & quotas --------------------------------------------------------------------------
class SourceList(ProjectScoped, generics.GenericAPIView):
    """GET the sources; PUT the complete list (quotas must add up to 1.0, all or nothing). While an
    import writes to the project, a PUT waits a bounded time for it and then answers 409."""

    serializer_class = SourceSerializer
    pagination_class = None

    def get_object(self):
        # PUT replaces the whole list, so the object it acts on is the project (DRF's OPTIONS asks
        # for it; without this it fails on the missing queryset).
        return self.get_project()

    @extend_schema(responses={200: SourceSerializer(many=True)})
    def get(self, request, slug):
        sources = Source.objects.filter(project=self.get_project()).order_by("name")
        return Response(self.get_serializer(sources, many=True).data)

    @extend_schema(request=SourceSerializer(many=True), responses={200: SourceSerializer(many=True)})
    def put(self, request, slug):
        serializer = self.get_serializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        project = self.get_project()
        try:
            with sources_change_atomic(project):  # an import's write holds the sources a bounded time, then 409
                lock_sources_for_change(project)
                sources = services.replace_sources(project, serializer.validated_data)
        except SourcesBusy as exc:
            return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc
        return Response(self.get_serializer(sources, many=True).data)


# --- rules -------------------------------------------------------------------------------------
class RuleList(ProjectScoped, generics.ListCreateAPIView):
    serializer_class = RuleSerializer
    lead_required = True

    def get_queryset(self):
        return Rule.objects.filter(project=self.get_project()).select_related("label").order_by("pk")

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = services.save_rule(self.get_project(), **serializer.validated_data)
        self.saved_rule = serializer.instance

    def create(self, request, *args, **kwargs):
        return _with_replan_note(super().create(request, *args, **kwargs), self)


def _with_replan_note(response: Response, view) -> Response:
    """The rule's answer, with ``waiting_wave`` when the change makes the waiting cold-start plan stale
    (services.save_rule's note: it is planned afresh, as after a settings change)."""
    note = getattr(getattr(view, "saved_rule", None), "replan_note", "")
    if note:
        response.data["waiting_wave"] = note
    return response


class RuleDetail(ProjectScoped, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = RuleSerializer
    lead_required = True

    def get_queryset(self):
        return Rule.objects.filter(project=self.get_project()).select_related("label")

    def perform_update(self, serializer):
        with service_errors():
            serializer.instance = services.save_rule(self.get_project(), serializer.instance,
                                                     **serializer.validated_data)
        self.saved_rule = serializer.instance

    def update(self, request, *args, **kwargs):
        return _with_replan_note(super().update(request, *args, **kwargs), self)

    def perform_destroy(self, instance):
        services.delete_rule(self.get_project(), instance)  # a waiting cold-start plan is planned afresh


class RulePreview(ProjectScoped, APIView):
    """How many pool items a rule would match, before saving it."""

    lead_required = True

    @extend_schema(request=RulePreviewSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        data = RulePreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = selectors.preview_rule(self.get_project(), data.validated_data["kind"],
                                            data.validated_data["pattern"])
        except ValueError as exc:
            raise serializers.ValidationError({"pattern": [f"Pattern “{data.validated_data['pattern']}”: {exc}."]}) from exc
        return Response(result)


# --- members -----------------------------------------------------------------------------------
class MemberList(ProjectScoped, generics.ListCreateAPIView):
    serializer_class = MembershipSerializer
    lead_required = True

    def get_queryset(self):
        return selectors.members(self.get_project())

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = set_member(self.get_project(), serializer.validated_data["user"],
                                                      serializer.validated_data["role"])


class MemberDetail(ProjectScoped, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = MembershipSerializer
    lead_required = True

    def get_queryset(self):
        return Membership.objects.filter(project=self.get_project()).select_related("user")

    def perform_update(self, serializer):
        with service_errors():
            serializer.instance = set_member(
                self.get_project(), serializer.instance.user,
                serializer.validated_data.get("role", serializer.instance.role))

    def perform_destroy(self, instance):
        with service_errors():
            remove_member(instance)


# --- predict -----------------------------------------------------------------------------------
class Predict(ProjectScoped, APIView):
    """Texts in; per text the label (or coarse label on fallback), its probability, every class's
    calibrated probability, and needs_review from the per-class thresholds. With the project's queue_review_predictions (or
    queue_for_review=true from a lead), texts that need review are queued for annotation.

    Every member may call it (a POST that only reads), so it is bounded per call
    (LONGTAIL_PREDICT_MAX_CHARS over all texts, PredictSerializer) and per user
    (LONGTAIL_PREDICT_RATE, then 429 with Retry-After; and one call at a time, else 429 with
    Retry-After, a refusal that the rate does not count): the texts are encoded in the web process.
    The encoder reads a text only up to its window (256 tokens for the default one): a row says
    ``truncated`` and, where it is true, how many tokens and characters were read (text_window)."""

    member_writes = True
    throttle_classes = [UserScopedRateThrottle]
    throttle_scope = "predict"

    @extend_schema(request=PredictSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        project = self.get_project()
        data = PredictSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        texts = data.validated_data["texts"]
        too_long = [i for i, t in enumerate(texts) if len(t) > project.max_text_chars]
        if too_long:
            raise serializers.ValidationError({"texts": [
                f"Text {i} has {len(texts[i])} characters; the project allows {project.max_text_chars}."
                for i in too_long[:20]]})
        queue = data.validated_data["queue_for_review"]
        if queue is None:
            queue = project.queue_review_predictions
        elif queue and not can_manage(request.user, project) and not project.queue_review_predictions:
            raise PermissionDenied("Only leads may queue predictions when the project does not.")
        # A call refused while the previous one runs does not use up the rate (DRF counted it already).
        with one_call_at_a_time("predict", request.user, on_refusal=partial(refund_rate, request, self)):
            model = active_model(project)
            if model is None:
                return Response({"detail": "This project has no active model yet: label a wave and train first."},
                                status=status.HTTP_409_CONFLICT)
            try:
                predictions = predict_texts(project, texts)
            except EncoderFolderMissing as exc:  # a final model whose encoder folder this host lacks
                return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
            queued = services.queue_predictions_for_review(project, texts, predictions) if queue else {}
            windows = window_fields(model, texts)  # which texts the encoder cut at its window
        # every row says whether it went to review (and, where it did not, why)
        results = [{"index": i, "queued_for_review": False,
                    "review_note": None if queue else "queueing for review is off for this request", **p,
                    "queued_item": queued.get(i), **windows[i]} for i, p in enumerate(predictions)]
        return Response({"model_version": model.number, "results": results})
