"""REST API of the annotator's side. Members (annotators, leads, admins) lease and answer;
agreement and the review queue are for leads and admins. Non-members get 404, except a removed
member (one who held items of the project): 403 saying they are no longer a member.

The annotation page sends ``labels_version`` (selectors.labels_version) with answers, lease
renewals and leases; a reply to a page whose labels are out of date carries the current ones
(``labels``, ``labels_version``), so the page follows a lead's renames and hotkey moves."""
from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.projects.locks import not_a_member
from labeling.projects.permissions import can_manage, former_member_project, project_for
from labeling.projects.schema import ErrorSerializer

from . import (
    context,
    history,
    history_selectors,
    leasing,
    renewal,
    review_selectors,
    review_services,
    selectors,
    serializers,
    services,
    waiting,
)
from .models import Assignment, ReviewTask


def error_response(exc: services.AnnotationError) -> Response:
    body = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    return Response(body, status=exc.status)


def with_current_labels(project, body: dict, page_version) -> dict:
    """Add the project's labels to a reply when the page's (``page_version``; None: a client that
    does not follow them, which pays nothing) are not the current ones."""
    if page_version is None:
        return body
    payload = selectors.labels_payload(project)
    version = selectors.labels_version(payload)
    if version != page_version:
        body.update(labels=payload, labels_version=version)
    return body


def batch_response_data(project, user, leased: leasing.LeasedBatch) -> dict:
    with_reasons = can_manage(user, project)
    items = [selectors.assignment_payload(a, with_reasons=with_reasons) for a in leased.assignments]
    context.enrich(project, items)  # metadata, rule highlights, suggestion
    data = {
        "resumed": leased.resumed,
        "items": items,
        "progress": selectors.wave_progress(project),
        "message": "",
        # Why nothing came back: the page shows it instead of a bare "nothing is waiting".
        "waiting": None if items else waiting.why_waiting(project, user),
    }
    if not items:
        data["message"] = data["waiting"]["message"]
    return data


class ProjectAPIView(APIView):
    permission_classes = [IsAuthenticated]
    lead_only = False
    refused_removed = "ask one of its leads to add you again"  # a view's own: what was not done

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and IsAuthenticated first
        try:
            self.project = project_for(request.user, kwargs["slug"], manage=self.lead_only)
        except Http404:
            # A member removed mid-batch learns why, not "No such project."; to anyone who never
            # held an item of the project the 404 stays, so it does not tell which slugs exist.
            former = former_member_project(request.user, kwargs["slug"])
            if former is None:
                raise
            raise not_a_member(former, self.refused_removed) from None


class LeaseBatchView(ProjectAPIView):
    refused_removed = "nothing was leased"

    @extend_schema(request=serializers.LeaseRequestSerializer, responses=serializers.BatchSerializer,
                   summary="Lease the next batch (or get back the one you hold)")
    def post(self, request, slug):
        params = serializers.LeaseRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        size = params.validated_data.get("size")
        if size is not None and size > self.project.batch_size:
            return Response({"detail": f"size may be at most the project's batch size ({self.project.batch_size}).",
                             "field": "size"}, status=status.HTTP_400_BAD_REQUEST)
        leased = leasing.lease_batch(self.project, request.user, size=size)
        return Response(with_current_labels(self.project, batch_response_data(self.project, request.user, leased),
                                            params.validated_data.get("labels_version")))


class RenewLeasesView(ProjectAPIView):
    refused_removed = "your leases were not renewed"

    @extend_schema(request=serializers.RenewRequestSerializer, responses=serializers.RenewedSerializer,
                   summary="Extend your leases (keeps an open batch yours) and say which were lost")
    def post(self, request, slug):
        params = serializers.RenewRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        asked = params.validated_data
        result = renewal.renew(self.project, request.user, assignment_ids=asked.get("assignments"),
                               extend=asked["extend"])
        body = {
            "renewed": result.renewed,
            "lease_seconds": settings.LONGTAIL_LEASE_SECONDS,
            "held": [_lease(lease) for lease in result.held],
            "lapsed": [_lease(lease) for lease in result.lapsed],
            "lost": [{"assignment": lease.assignment, "item": lease.item, "reason": lease.reason,
                      "message": lease.message} for lease in result.lost],
        }
        return Response(with_current_labels(self.project, body, asked.get("labels_version")))


def _lease(lease: renewal.Lease) -> dict:
    return {"assignment": lease.assignment, "item": lease.item, "expires_at": lease.expires_at}


def named_two_different(first, second, found, refusal, *, field: str) -> Response | None:
    """400 for a request naming its target twice (``first``, ``second``: two ways of naming one
    thing) as two different ones: before, the first won and the second was dropped without a word.
    ``found``: the user's rows matching ``first``, as the value ``second`` is compared with;
    ``refusal(value)``: the message, given that value. None where they agree, where only one is
    given, or where ``first`` names none of the user's (the write itself refuses that)."""
    if first is None or second is None:
        return None
    value = next(iter(found), None)
    if value is None or value == second:
        return None
    return Response({"detail": refusal(value), "field": field}, status=status.HTTP_400_BAD_REQUEST)


def assignment_item_mismatch(user, assignment_id, item_id) -> Response | None:
    """An answer naming one of the user's assignments and another item (the answer went to the
    assignment's item, the item named ignored)."""
    return named_two_different(
        assignment_id, item_id,
        Assignment.objects.filter(pk=assignment_id, annotator=user).values_list("wave_item__item_id", flat=True),
        lambda leased_item: f"Assignment {assignment_id} is for item {leased_item}, not item {item_id}: give one "
                            "of 'assignment' and 'item', or both naming the same item. Nothing was stored.",
        field="item")


def replay_differences(stored, data: dict) -> list[str]:
    """The fields in which an answer sent under an already stored answer's client_id differs from
    that answer: a retry sends the same payload again (the page's outbox does), so a difference is
    a new choice that the stored answer would silently swallow. Empty for a true retry."""
    differ = []
    if data.get("assignment") is not None and data["assignment"] != stored.assignment_id:
        differ.append("assignment")
    if data.get("item") is not None and data["item"] != stored.item_id:
        differ.append("item")
    return differ + choice_differences(stored, data)


def choice_differences(stored, data: dict) -> list[str]:
    """The fields in which the choice sent (a label, none of these, a skip and its reason) differs
    from the stored answer's: of an answer, or of a change (``api_history``)."""
    differ = []
    stored_other = stored.label is not None and stored.label.is_other
    if data.get("label") is not None and data["label"] != stored.label_id:
        differ.append("label")
    if bool(data["none_of_these"]) != (stored_other and data.get("label") is None):
        differ.append("none_of_these")
    if bool(data["skipped"]) != stored.skipped:
        differ.append("skipped")
    elif stored.skipped and (data["skip_reason"] or "").strip() != stored.skip_reason:
        differ.append("skip_reason")  # stored stripped, so a retry's stray space is no difference
    return differ


ANSWER_REPLAY_HINT = ("To change that answer use the change endpoint (annotations/change/); for a new answer "
                      "send a new client_id.")


def replay_conflict(stored, differ: list[str], *, what: str = "answer", hint: str = ANSWER_REPLAY_HINT) -> Response:
    """409 for an answer (or a change: ``what``) re-sent under a used client_id with another choice:
    nothing was stored, and the body carries the answer that stands for that id."""
    return Response({
        "detail": f"client_id {stored.client_id} already stored a different {what} ({', '.join(differ)} differ"
                  f"{'s' if len(differ) == 1 else ''}); this one was not stored. {hint}",
        "field": "client_id", "stored": serializers.AnnotationSerializer(stored).data,
    }, status=status.HTTP_409_CONFLICT)


class AnswerView(ProjectAPIView):
    refused_removed = "your answer was not stored"

    @extend_schema(request=serializers.AnswerSerializer, responses={
        201: serializers.AnswerResultSerializer, 200: serializers.AnswerResultSerializer,
        409: OpenApiResponse(ErrorSerializer, description="Not stored on the item (already answered, the slot taken): "
                                                          "'standing' holds your answer that counts on it now (a "
                                                          "history row), or null. Or field client_id: that id "
                                                          "already stored a different answer, in 'stored'.")},
        summary="Store an answer (idempotent on client_id)")
    def post(self, request, slug):
        answer = serializers.AnswerSerializer(data=request.data)
        answer.is_valid(raise_exception=True)
        data = answer.validated_data
        if (mismatch := assignment_item_mismatch(request.user, data.get("assignment"), data.get("item"))) is not None:
            return mismatch
        try:
            suggested = history.suggested_label(self.project, data.get("suggested_label"))
            result = services.submit_answer(
                self.project, request.user, client_id=data["client_id"], assignment_id=data.get("assignment"),
                item_id=data.get("item"), label_id=data.get("label"), skipped=data["skipped"],
                skip_reason=data["skip_reason"], none_of_these=data["none_of_these"],
                label_name=data.get("label_name"), suggestion_shown=data["suggestion_shown"], suggested=suggested,
            )
        except services.LabelRenamed as exc:
            # The page chose by a name that is gone: it gets the labels as they are now with the refusal.
            return Response(with_current_labels(self.project, error_response(exc).data, ""), status=exc.status)
        except services.AnswerRejected as exc:
            if exc.field not in ("assignment", "item"):
                return error_response(exc)
            # Not stored on the item (already answered in another tab, the slot taken): the page
            # learns which of the annotator's answers counts there now (None: none), as a refused change does.
            body = dict(error_response(exc).data, standing=history_selectors.standing_for_answer(
                self.project, request.user, assignment_id=data.get("assignment"), item_id=data.get("item")))
            return Response(body, status=exc.status)
        except services.AnnotationError as exc:
            return error_response(exc)
        if not result.created and (differ := replay_differences(result.annotation, data)):
            return replay_conflict(result.annotation, differ)
        body = {
            "annotation": serializers.AnnotationSerializer(result.annotation).data,
            "created": result.created,
            "review_task": result.review_task.pk if result.review_task else None,
        }
        with_current_labels(self.project, body, data.get("labels_version"))
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class UndoView(ProjectAPIView):
    refused_removed = "nothing was undone"

    @extend_schema(request=serializers.UndoSerializer, responses={
        200: serializers.AnnotationSerializer,
        404: OpenApiResponse(ErrorSerializer, description="Nothing was undone: you have no answer to undo, or "
                                                          "the answer named by client_id is not one of yours in "
                                                          "this project (field client_id)."),
        409: OpenApiResponse(ErrorSerializer, description="Nothing was undone: the answer named by client_id is "
                                                          "not stored yet (its submit still on the way), or a "
                                                          "change replaced it (undo the newer answer).")},
        summary="Undo your latest answer in the project, or the one named by client_id")
    def post(self, request, slug):
        params = serializers.UndoSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            annotation = services.undo_last_answer(
                self.project, request.user, client_id=params.validated_data.get("client_id"))
        except services.AnnotationError as exc:
            return error_response(exc)
        return Response(serializers.AnnotationSerializer(annotation).data)


class AgreementView(ProjectAPIView):
    lead_only = True

    @extend_schema(responses=serializers.AgreementSerializer, summary="Inter-annotator agreement")
    def get(self, request, slug):
        return Response(selectors.agreement_summary(self.project))


class ReviewQueueView(ProjectAPIView):
    lead_only = True

    @extend_schema(
        parameters=[OpenApiParameter("reason", str, enum=[r for r, _ in ReviewTask.REASONS]),
                    OpenApiParameter("limit", int, description="At most this many tasks (default 100).")],
        responses=serializers.ReviewQueueSerializer, summary="Open review tasks, oldest first",
    )
    def get(self, request, slug):
        given = request.query_params.get("limit") or "100"
        if not (given.isascii() and given.isdigit()) or int(given) < 1:  # 0 and -1 were taken as 1
            return Response({"detail": f"limit must be a whole number from 1 to 1000 (larger gives 1000); got {given!r}.",
                             "field": "limit"}, status=400)
        limit = min(int(given), 1000)
        reason = request.query_params.get("reason") or None
        if reason and reason not in dict(ReviewTask.REASONS):
            return Response({"detail": "reason must be one of: " + ", ".join(r for r, _ in ReviewTask.REASONS) + ".",
                             "field": "reason"},
                            status=400)
        tasks = selectors.review_queue(self.project, reason=reason, limit=limit)
        review_selectors.show_current_names(self.project, tasks)  # the labels' names now, as the page shows
        return Response({
            "counts": selectors.review_counts(self.project),
            "results": serializers.ReviewTaskSerializer(tasks, many=True).data,
        })

    @extend_schema(request=serializers.ResolveSerializer, responses=serializers.ResolvedSerializer,
                   summary="Adjudicate: resolve a task with a label")
    def post(self, request, slug):
        resolve = serializers.ResolveSerializer(data=request.data)
        resolve.is_valid(raise_exception=True)
        try:
            task = review_services.resolve_review(
                self.project, request.user, task_id=resolve.validated_data["task"],
                label_id=resolve.validated_data["label"],
            )
        except services.AnnotationError as exc:
            return error_response(exc)
        return Response(serializers.ResolvedSerializer(task).data)
