"""REST API of the review queue beyond one-by-one adjudication (``api.ReviewQueueView``): the
queue grouped by the model's label, and bulk accept / relabel / dismiss. Leads and admins only."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from labeling.projects.schema import VALIDATION_ERROR, ErrorSerializer
from labeling.projects.serializers import RefuseUnknownFields

from . import review_selectors, review_services
from .api import ProjectAPIView, error_response, with_current_labels
from .models import ReviewTask
from .serializers import ReviewAnswerSerializer
from .services import AnnotationError, LabelRenamed


class ShownSerializer(serializers.Serializer):
    task = serializers.IntegerField(help_text="A review task id of `tasks`.")
    label = serializers.CharField(allow_null=True, allow_blank=True, trim_whitespace=False,
                                  help_text="The model's label the page showed for the task (null: none).")
    model_version = serializers.IntegerField(required=False, allow_null=True,
                                             help_text="The model version the page showed for the task.")


class ReviewBulkRequestSerializer(RefuseUnknownFields, serializers.Serializer):
    action = serializers.ChoiceField(
        choices=review_services.ACTIONS,
        help_text="accept: store the model's label (the prediction; a label issue's suggested label). "
                  "relabel: store `label`. dismiss: close without storing a label.")
    tasks = serializers.ListField(child=serializers.IntegerField(), min_length=1,
                                  max_length=review_services.MAX_TASKS, help_text="Review task ids.")
    label = serializers.IntegerField(required=False, allow_null=True, help_text="Label id (relabel only).")
    label_name = serializers.CharField(
        required=False, allow_null=True, allow_blank=False, trim_whitespace=False, max_length=500,
        help_text="Relabel only: the label's name as the page showed it (its name, or \"Coarse › Fine\"). When "
                  "the label is named otherwise now (another lead renamed or swapped labels), 409 on label_name, "
                  "nothing is stored, and the reply carries the current labels. Without it, the id alone decides.")
    shown = ShownSerializer(
        many=True, required=False, max_length=review_services.MAX_TASKS,
        help_text="Required for accept and dismiss, one entry per task: the model's label the lead saw. A task "
                  "whose model label changed since (a new model re-scored it) is left open with code "
                  "`prediction_changed`, so that no label the lead did not see is stored or let stand. "
                  "Not needed for relabel.")


class SkippedSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    reason = serializers.CharField()
    code = serializers.ChoiceField(
        choices=[review_services.CLOSED_MEANWHILE, review_services.PREDICTION_CHANGED, review_services.REFUSED],
        help_text="closed_meanwhile: the task was closed since the page loaded (the reason says how), also by "
                  "this request: the label it stored for the task's item for another task closed it; "
                  "prediction_changed: its model label is no longer the one shown (reload to see it); "
                  "refused: anything else.")


class ReviewBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    done = serializers.ListField(child=serializers.IntegerField(), help_text="Tasks resolved by this request.")
    skipped = SkippedSerializer(many=True, help_text="Tasks not done as asked, each with why: left open, "
                                                     "or closed meanwhile (code closed_meanwhile).")
    labeled_items = serializers.ListField(child=serializers.IntegerField(),
                                          help_text="Items that got an adjudicated label.")
    accepted = serializers.ListField(child=serializers.IntegerField(),
                                     help_text="Tasks of `done` recorded as accepted: the label stored is the "
                                               "model's for that task (also when the action was relabel); "
                                               "the other tasks a label closed are recorded as relabeled.")


class GroupTaskSerializer(serializers.ModelSerializer):
    text = serializers.CharField(source="item.text")
    source = serializers.CharField(source="item.source.name", default=None)
    answers = ReviewAnswerSerializer(many=True, read_only=True)
    model_label = serializers.CharField(allow_null=True, help_text="The label `accept` would store.")

    class Meta:
        model = ReviewTask
        fields = ["id", "item", "text", "source", "reason", "detail", "model_version", "model_label",
                  "created_at", "answers"]


class GroupSerializer(serializers.Serializer):
    label = serializers.CharField()
    label_id = serializers.IntegerField(allow_null=True)
    tasks = GroupTaskSerializer(many=True)


class GroupsSerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Open tasks (of the reason asked for).")
    shown = serializers.IntegerField()
    groups = GroupSerializer(many=True)


def _limit(value) -> int:
    return max(1, min(int(value), 1000))


class ReviewGroupsView(ProjectAPIView):
    lead_only = True

    @extend_schema(
        parameters=[OpenApiParameter("reason", str, enum=[r for r, _ in ReviewTask.REASONS]),
                    OpenApiParameter("limit", int, description="At most this many tasks (default 500).")],
        responses={200: GroupsSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="limit or reason is not valid.")},
        summary="Open review tasks grouped by the model's label",
    )
    def get(self, request, slug):
        try:
            limit = _limit(request.query_params.get("limit", 500))
        except ValueError:
            return Response({"detail": "limit must be a whole number.", "field": "limit"}, status=400)
        reason = request.query_params.get("reason") or None
        if reason and reason not in dict(ReviewTask.REASONS):
            return Response({"detail": "reason must be one of: " + ", ".join(dict(ReviewTask.REASONS)) + ".",
                             "field": "reason"}, status=400)
        data = review_selectors.review_groups(self.project, reason=reason, limit=limit)
        return Response(GroupsSerializer({"open": data["open"], "shown": data["shown"],
                                          "groups": data["groups"]}).data)


def _plain(shown):
    return None if shown is None else [dict(entry) for entry in shown]


class ReviewBulkView(ProjectAPIView):
    lead_only = True

    @extend_schema(request=ReviewBulkRequestSerializer,
                   responses={200: ReviewBulkResultSerializer,
                              # The body check answers DRF's field-keyed body, as every other write's 400
                              # (the Error body only where the review refuses past it, e.g. relabel without label).
                              400: OpenApiResponse(VALIDATION_ERROR, description="A field is missing or not valid "
                                                   "(`shown` for accept and dismiss): the field names with their "
                                                   "messages, or `detail` and `field`."),
                              409: OpenApiResponse(ErrorSerializer, description="Relabel: the label is no longer "
                                                   "named `label_name`; nothing stored; `labels` holds the "
                                                   "current labels.")},
                   summary="Accept, relabel or dismiss many review tasks")
    def post(self, request, slug):
        body = ReviewBulkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            result = review_services.bulk_review(self.project, request.user, action=data["action"],
                                                 task_ids=data["tasks"], label_id=data.get("label"),
                                                 shown=_plain(data.get("shown")), label_name=data.get("label_name"))
        except LabelRenamed as exc:
            # The page chose by a name that is gone: it gets the labels as they are now with the refusal.
            return Response(with_current_labels(self.project, error_response(exc).data, ""), status=exc.status)
        except AnnotationError as exc:
            return error_response(exc)
        return Response(ReviewBulkResultSerializer(result).data)
