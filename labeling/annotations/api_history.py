"""REST API of an annotator's own history: list the answers that count, change or clear one.
A change is a new answer that supersedes the old one (see ``history``)."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling.items.validation import has_visible_text
from labeling.projects.schema import ErrorSerializer
from labeling.projects.serializers import RefuseUnknownFields

from . import history, history_selectors, services
from .api import (
    ProjectAPIView,
    choice_differences,
    error_response,
    named_two_different,
    replay_conflict,
    with_current_labels,
)
from .models import Annotation
from .serializers import (
    CURRENT_LABELS_HELP,
    SKIP_REASON_INVISIBLE,
    AnnotationSerializer,
    PageLabelSerializer,
    labels_version_field,
)

HISTORY_MAX = 200  # rows one history call returns at most


class HistoryRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.UUIDField()
    item = serializers.IntegerField()
    assignment = serializers.IntegerField(allow_null=True)
    snippet = serializers.CharField(help_text="The item's text, white space folded, cut at 140 characters.")
    text = serializers.CharField()
    source = serializers.CharField(allow_null=True)
    label = serializers.IntegerField(allow_null=True)
    label_name = serializers.CharField(allow_null=True)
    hotkey = serializers.CharField(allow_blank=True)
    is_other = serializers.BooleanField()
    skipped = serializers.BooleanField()
    skip_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    supersedes = serializers.IntegerField(allow_null=True, help_text="The answer this one replaced, if any.")
    suggestion_shown = serializers.BooleanField()


class HistorySerializer(serializers.Serializer):
    results = HistoryRowSerializer(many=True)


class ChangeSerializer(RefuseUnknownFields, serializers.Serializer):
    client_id = serializers.UUIDField(help_text="A new id for the change; a retry with the same id is stored once.")
    supersedes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1,
                                          help_text="Id of your answer to change.")
    supersedes_client_id = serializers.UUIDField(required=False, allow_null=True,
                                                 help_text="Or that answer's client_id.")
    label = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    label_name = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False,
                                       max_length=200, help_text="The label's name as the client showed it; 409 "
                                                                 "when it is named otherwise now.")
    skipped = serializers.BooleanField(required=False, default=False)
    skip_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    none_of_these = serializers.BooleanField(required=False, default=False)
    clear = serializers.BooleanField(required=False, default=False,
                                     help_text="Withdraw the answer; the item waits for your answer again.")
    suggestion_shown = serializers.BooleanField(required=False, default=False)
    suggested_label = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    labels_version = labels_version_field()

    def validate(self, attrs):
        if attrs.get("supersedes") is None and attrs.get("supersedes_client_id") is None:
            raise serializers.ValidationError({"supersedes": "Give 'supersedes' or 'supersedes_client_id'."})
        if attrs.get("skipped") and attrs.get("skip_reason") and not has_visible_text(attrs["skip_reason"]):
            # As the answer endpoint: a change to a skip must say why in something a lead can read.
            raise serializers.ValidationError({"skip_reason": SKIP_REASON_INVISIBLE})
        return attrs


def named_answers_differ(user, supersedes, supersedes_client_id) -> Response | None:
    """A change naming its answer twice, by id and by client_id, as two different answers of the
    user's (the id won and the other was ignored)."""
    return named_two_different(
        supersedes, supersedes_client_id,
        Annotation.objects.filter(pk=supersedes, annotator=user).values_list("client_id", flat=True),
        lambda _: f"supersedes ({supersedes}) and supersedes_client_id ({supersedes_client_id}) name different "
                  "answers: give one of them, or both naming the same answer. Nothing was changed.",
        field="supersedes_client_id")


def change_replay_differences(stored: Annotation, data: dict) -> list[str]:
    """The fields in which a change sent under an already stored change's client_id differs from
    it (as ``replay_differences`` for answers): the answer it names, or its choice. A stored change
    is never a clear (a clear stores no row), so a clear under its id differs in that alone."""
    differ = []
    if data.get("supersedes") is not None and data["supersedes"] != stored.supersedes_id:
        differ.append("supersedes")
    named = data.get("supersedes_client_id")
    if named is not None and (stored.supersedes is None or named != stored.supersedes.client_id):
        differ.append("supersedes_client_id")
    return differ + (["clear"] if data["clear"] else choice_differences(stored, data))


CHANGE_REPLAY_HINT = "To change that answer again send a new client_id."


class ChangeResultSerializer(serializers.Serializer):
    annotation = AnnotationSerializer(allow_null=True, help_text="The new answer; null when cleared.")
    replaced = AnnotationSerializer(help_text="The answer changed or cleared, kept for the audit trail.")
    created = serializers.BooleanField(help_text="False for a retry of a change already stored.")
    reopened = serializers.BooleanField(help_text="A clear: true when the item waits for you again (its wave is "
                                                  "open), false when it went back to the pool (its wave is closed).")
    still_labeled = serializers.BooleanField(help_text="A clear: true when other answers (other annotators', "
                                                       "imported, a lead's) still label the item, so it is not back "
                                                       "in the pool; false for a change.")
    labels = PageLabelSerializer(many=True, required=False, help_text=CURRENT_LABELS_HELP)
    labels_version = serializers.CharField(required=False, help_text="With labels: their version.")


class HistoryView(ProjectAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="At most this many answers: 1 to 200 (default 50; "
                                                                "larger gives 200).")],
        responses={200: HistorySerializer, 400: OpenApiResponse(ErrorSerializer, description="limit is not valid."),
                   # Reads are open to every member, so the schema's defaults give no 403 here; but a
                   # removed member who held items learns why (ProjectAPIView), not "No such project".
                   403: OpenApiResponse(ErrorSerializer, description="You were removed from the project after "
                                        "holding items of it: \"You are no longer a member of project …\".")},
        summary="Your answers that count in the project, newest first")
    def get(self, request, slug):
        raw = request.query_params.get("limit", "")
        # Plain digits only (int() also takes " 5" and "+5"); 0 or less is refused rather than read as 1.
        if raw == "":
            limit = history_selectors.HISTORY_LIMIT
        else:
            limit = int(raw) if raw.isascii() and raw.isdigit() else 0
        if limit < 1:
            return Response({"detail": f"limit must be a whole number from 1 to {HISTORY_MAX} (larger gives "
                                       f"{HISTORY_MAX}); got {raw[:50]!r}.", "field": "limit"}, status=400)
        limit = min(limit, HISTORY_MAX)
        return Response({"results": history_selectors.recent_answers(self.project, request.user, limit=limit)})


class ChangeAnswerView(ProjectAPIView):
    refused_removed = "nothing was changed"

    @extend_schema(
        request=ChangeSerializer,
        responses={201: ChangeResultSerializer, 200: ChangeResultSerializer,
                   409: OpenApiResponse(ErrorSerializer, description="The answer was already changed or cleared; "
                                                                      "'standing' then holds your answer that counts "
                                                                      "on the item now (a history row), or null. Or "
                                                                      "field client_id: that id already stored a "
                                                                      "different change, in 'stored'.")},
        summary="Change or clear one of your answers (a change is a new answer that supersedes it)")
    def post(self, request, slug):
        change = ChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        data = change.validated_data
        differ = named_answers_differ(request.user, data.get("supersedes"), data.get("supersedes_client_id"))
        if differ is not None:
            return differ
        try:
            result = history.change_answer(
                self.project, request.user, client_id=data["client_id"], supersedes=data.get("supersedes"),
                supersedes_client_id=data.get("supersedes_client_id"), label_id=data.get("label"),
                skipped=data["skipped"], skip_reason=data["skip_reason"], none_of_these=data["none_of_these"],
                clear=data["clear"], suggestion_shown=data["suggestion_shown"],
                suggested_label_id=data.get("suggested_label"), label_name=data.get("label_name"),
            )
        except services.LabelRenamed as exc:  # with the labels as they are now, as an answer's refusal
            return Response(with_current_labels(self.project, error_response(exc).data, ""), status=exc.status)
        except history.AnswerReplaced as exc:
            # The page named an answer that no longer stands: it learns the one that does (None:
            # nothing of the annotator's counts on the item now), so its next change names that.
            body = dict(error_response(exc).data,
                        standing=history_selectors.standing_answer(self.project, request.user, exc.item_id))
            return Response(body, status=exc.status)
        except services.AnnotationError as exc:
            return error_response(exc)
        if not result.created and result.annotation is not None and (
                differ := change_replay_differences(result.annotation, data)):
            return replay_conflict(result.annotation, differ, what="change", hint=CHANGE_REPLAY_HINT)
        body = {
            "annotation": AnnotationSerializer(result.annotation).data if result.annotation else None,
            "replaced": AnnotationSerializer(result.replaced).data,
            "created": result.created,
            "reopened": result.reopened,
            "still_labeled": result.still_labeled,
        }
        with_current_labels(self.project, body, data.get("labels_version"))  # as an answer's reply
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
