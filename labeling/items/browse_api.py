"""REST API of the item browser: items (filtered list, detail with the item's whole story),
answers (list by item / annotator / wave) and the browser's bulk actions. Leads and admins of
the project only, like the pages: an annotator gets 403, a non-member 404."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from labeling.annotations.models import Annotation
from labeling.projects.api import ProjectScoped
from labeling.projects.schema import ErrorSerializer
from labeling.projects.serializers import RefuseUnknownFields

from . import browse, bulk, narrowing, neighbours, story
from .filters import AnswerFilterSet, ItemFilterSet
from .models import Item
from .paging import AnswerCursorPagination, ItemCursorPagination


class ProjectFilterBackend(DjangoFilterBackend):
    """django-filter's backend, handing the URL's project to the filter set (label, source and
    annotator choices are the project's)."""

    def get_filterset_kwargs(self, request, queryset, view):
        return {**super().get_filterset_kwargs(request, queryset, view), "project": view.get_project()}

    def get_filterset(self, request, queryset, view):
        # Kept on the view: the item list decorates its rows with the model version the filter set read.
        view.applied_filterset = super().get_filterset(request, queryset, view)
        return view.applied_filterset


# --- serializers ---------------------------------------------------------------------------------
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="A parameter is invalid: {\"parameter\": [\"message\", …]}."),
    403: OpenApiResponse(ErrorSerializer, description="Signed in, but not a lead or admin of the project."),
    404: OpenApiResponse(ErrorSerializer, description="No such project (or not yours), no such item, or a bad cursor."),
}


WALK_VERSION_HELP = (
    "The number of the model version whose scores give predicted_label and confidence (null: no model). The active "
    "one, except on a later page of a list sorted by confidence or filtered by prediction (predicted, min_confidence, "
    "max_confidence): there it is the version that list's first page read, which chose and ordered its rows, even "
    "if a retrain has activated another since; start again from the first page for the active model's.")


class ItemRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    external_id = serializers.CharField(source="item.external_id", allow_null=True)
    text = serializers.CharField(source="item.text")
    source = serializers.CharField(source="item.source.name", allow_null=True, default=None)
    dup_group = serializers.IntegerField(source="item.dup_group", allow_null=True)
    created_at = serializers.DateTimeField(source="item.created_at")
    excluded = serializers.BooleanField(source="item.excluded")
    pinned_for_next_wave = serializers.BooleanField(source="item.pinned_for_next_wave")
    state = serializers.CharField(help_text="One of: " + ", ".join(browse.STATE_MEANINGS) + " (see the state filter).")
    resolved_label = serializers.CharField(allow_null=True)
    predicted_label = serializers.CharField(
        allow_null=True, help_text="The label model_version emits (a coarse → fine model that falls back: the coarse "
                                   "label).")
    fallback = serializers.BooleanField(
        default=False, help_text="The model fell back to the coarse label: its fine candidate is below the fine-label floor.")
    fallback_from = serializers.CharField(
        allow_null=True, default=None, help_text="When the model fell back to the coarse label: the fine candidate it "
                                                 "rejected, by its name now (null: no fallback, or that label was deleted).")
    confidence = serializers.FloatField(allow_null=True, help_text="Its calibrated probability, by model_version.")
    model_version = serializers.SerializerMethodField(help_text=WALK_VERSION_HELP)
    answers = serializers.IntegerField(help_text="Live answers.")
    waves = serializers.ListField(child=serializers.IntegerField(), help_text="Numbers of the waves that picked it.")

    @extend_schema_field(OpenApiTypes.INT)
    def get_model_version(self, row) -> int | None:
        version = self.context.get("model_version")
        return None if version is None else version.number


class AnswerRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    annotator = serializers.CharField(allow_null=True)
    label = serializers.CharField(allow_null=True)
    skipped = serializers.BooleanField()
    skip_reason = serializers.CharField(allow_blank=True)
    origin = serializers.ChoiceField(choices=Annotation.ORIGINS)
    undone = serializers.BooleanField(
        help_text="Cleared: taken back with no newer answer replacing it. A changed answer is not undone: it "
                  "shows superseded and superseded_by.")
    superseded = serializers.BooleanField(
        help_text="A later answer by the same annotator, or a later adjudication, replaces it.")
    superseded_by = serializers.IntegerField(
        allow_null=True, required=False, help_text="The answer that changed this one (the annotator's change).")
    created_at = serializers.DateTimeField()
    wave = serializers.IntegerField(allow_null=True)


class PickSerializer(serializers.Serializer):
    wave = serializers.IntegerField()
    wave_state = serializers.CharField()
    strategy = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    inclusion_prob = serializers.FloatField(
        allow_null=True, help_text="null for a ranked pick, a lead's pin or the fill (not a probability draw).")
    predicted_label = serializers.CharField(allow_null=True)
    predicted_prob = serializers.FloatField(allow_null=True)
    likely_rare = serializers.BooleanField()
    overlap = serializers.IntegerField()
    batch = serializers.IntegerField()


class PredictionSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    state = serializers.CharField()
    label = serializers.CharField(allow_null=True, help_text="The label this version emits.")
    probability = serializers.FloatField()
    margin = serializers.FloatField()
    fallback = serializers.BooleanField(help_text="The version fell back to the coarse label.")
    candidate = serializers.CharField(allow_null=True, help_text="On a fallback: the fine candidate it rejected.")


class DuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    source = serializers.CharField(allow_null=True)
    exact = serializers.BooleanField()
    excluded = serializers.BooleanField()


class ReviewTaskRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_label = serializers.CharField(allow_null=True)
    resolved_by = serializers.CharField(allow_null=True)


class NeighbourSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    similarity = serializers.FloatField()
    text = serializers.CharField()
    source = serializers.CharField(allow_null=True)
    label = serializers.CharField(allow_null=True)


class NeighboursSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    message = serializers.CharField(required=False)
    sampled = serializers.BooleanField(required=False, help_text="True: unlabeled items were searched in a sample.")
    scanned_labeled = serializers.IntegerField(required=False)
    scanned_unlabeled = serializers.IntegerField(required=False)
    labeled = NeighbourSerializer(many=True)
    unlabeled = NeighbourSerializer(many=True)


class ItemDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    text = serializers.CharField()
    metadata = serializers.JSONField()
    source = serializers.CharField(allow_null=True)
    dup_group = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    import_batch = serializers.IntegerField(allow_null=True)
    excluded = serializers.BooleanField()
    pinned_for_next_wave = serializers.BooleanField()
    state = serializers.CharField(help_text="One of: " + ", ".join(browse.STATE_MEANINGS) + " (see the state filter).")
    resolved_label = serializers.CharField(allow_null=True)
    duplicates = DuplicateSerializer(many=True)
    duplicates_total = serializers.IntegerField()
    picks = PickSerializer(many=True, help_text="Every wave that picked the item, with why.")
    answers = AnswerRowSerializer(many=True)
    predictions = PredictionSerializer(many=True, help_text="Per model version that scored it, newest first.")
    review_tasks = ReviewTaskRowSerializer(many=True)
    neighbours = NeighboursSerializer()


class BulkRequestSerializer(RefuseUnknownFields, serializers.Serializer):
    """An unknown field (a misspelt "item") is refused with a 400 naming it, as every write is."""

    action = serializers.ChoiceField(choices=list(bulk.ACTIONS.items()))
    # Item ids are positive 64-bit integers; a larger number must be a 400, not a database overflow.
    items = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                  max_length=bulk.MAX_ITEMS, allow_empty=False)


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    items = serializers.IntegerField()
    changed = serializers.IntegerField()
    message = serializers.CharField()


# --- views ---------------------------------------------------------------------------------------
class _LeadList(ProjectScoped, generics.ListAPIView):
    lead_required = True
    filter_backends = [ProjectFilterBackend]


class ItemList(_LeadList):
    serializer_class = ItemRowSerializer
    filterset_class = ItemFilterSet
    pagination_class = ItemCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Item.objects.none()
        return browse.pool(self.get_project())

    @extend_schema(operation_id="project_items_list", summary="Browse the project's items (filters, search, sort)",
                   description="Keyset-paginated (follow `next`); `count` stops at 10,000. Leads and admins only.",
                   tags=["items"],
                   responses={200: ItemRowSerializer(many=True), **ERRORS, 503: OpenApiResponse(
                       ErrorSerializer, description="The search ran past its time limit; the message says how to "
                                                    "narrow it.")})
    def get(self, request, slug):
        try:
            with narrowing.pinned_plans():
                queryset = self.filter_queryset(self.get_queryset())
                page = self.paginate_queryset(queryset)
                narrowing.page_read()
                version = self.walk_version()
                rows = browse.decorate(self.get_project(), page, version)
        except narrowing.SearchTooSlow as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return self.get_paginated_response(
            ItemRowSerializer(rows, many=True, context={"model_version": version}).data)

    def walk_version(self):
        """The version whose scores chose and ordered the rows when the list sorts or filters by
        prediction (a later page keeps its walk's, across a retrain: the cursor names it), so that the
        rows' figures are the ones they were chosen by; else the active one."""
        filterset = getattr(self, "applied_filterset", None)
        if filterset is not None and filterset.reads_scores():
            return filterset.active_version()
        return browse.active_version(self.get_project())


class ItemDetail(ProjectScoped, generics.GenericAPIView):
    lead_required = True
    serializer_class = ItemDetailSerializer

    @extend_schema(operation_id="project_item_retrieve", summary="One item's whole story",
                   description="Text, metadata, duplicates, every wave pick with its reason and inclusion "
                               "probability, every answer, each model version's prediction, review tasks and the "
                               "nearest neighbours by embedding.", tags=["items"],
                   responses={200: ItemDetailSerializer, 403: ERRORS[403], 404: ERRORS[404]})
    def get(self, request, slug, item_id):
        project = self.get_project()
        item = get_object_or_404(Item.objects.select_related("source"), project=project, id=item_id)
        data = story.item_story(project, item)
        data["neighbours"] = neighbours.neighbours(project, item)
        return Response(ItemDetailSerializer(data).data)


class AnswerList(_LeadList):
    serializer_class = AnswerRowSerializer
    filterset_class = AnswerFilterSet
    pagination_class = AnswerCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Annotation.objects.none()
        return Annotation.objects.filter(project=self.get_project())

    @extend_schema(operation_id="project_answers_list", summary="The project's answers, newest first",
                   description="Every answer, cleared and changed ones included; filter by item, annotator, wave, "
                               "label, origin, undone (cleared), skipped.", tags=["items"],
                   responses={200: AnswerRowSerializer(many=True), **ERRORS})
    def get(self, request, slug):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # Supersession depends on the item's other answers, which may sit on other pages.
        by_item = story.answers_of(sorted({a.item_id for a in page}))
        rows = {row["id"]: row for answers in by_item.values() for row in story.answers_with_supersession(answers)}
        return self.get_paginated_response(AnswerRowSerializer([rows[a.id] for a in page], many=True).data)


class ItemBulk(ProjectScoped, generics.GenericAPIView):
    lead_required = True
    serializer_class = BulkRequestSerializer

    @extend_schema(operation_id="project_items_bulk", summary="Bulk action on items (all or nothing)",
                   description="review: open a review task; exclude / include: take out of / put back into the "
                               "pool the planner draws from (exclude also takes the items out of the planned and "
                               "open waves where nobody holds them; the reply's message says which); pin / unpin: "
                               "mark for the next wave.", tags=["items"],
                   request=BulkRequestSerializer, responses={200: BulkResultSerializer, **ERRORS})
    def post(self, request, slug):
        data = BulkRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = bulk.apply(self.get_project(), data.validated_data["action"], data.validated_data["items"],
                                request.user)
        except bulk.BulkError as exc:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"action": result.action, "items": result.items, "changed": result.changed,
                         "message": result.message})
