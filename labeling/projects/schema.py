"""OpenAPI schema: each operation lists the error answers it gives, not only its success.

Most follow from how the API is built and are added to every operation they apply to:
401 where authentication is required; 403 for writes (role, CSRF under session auth) and for reads
of lead-only views; 404 where the path names a project or object (non-members get 404 too) and for a
page past the end of a paginated list; 400 for writes (validation); 429 where a view is throttled.
The few answers that only some views give (409 conflicts, 400 on query parameters) are listed in
VIEW_ANSWERS; the schemathesis run in the suite checks every documented status against the app.
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    field = serializers.CharField(required=False, help_text="The request field at fault, where there is one.")


# Validation errors: {"field": ["message", ...], "non_field_errors": [...]}, or a list of such objects
# for a request body that is a list (PUT sources), or {"detail": "..."}.
VALIDATION_ERROR = {
    "oneOf": [{"type": "object", "additionalProperties": True}, {"type": "array", "items": {}}],
    "description": "Field names (or non_field_errors / detail) with their messages.",
}

# (view class path, method) -> {status: description}: answers particular to a view.
VIEW_ANSWERS: dict[tuple[str, str], dict[int, str]] = {
    ("labeling.projects.api.SourceList", "PUT"): {409: "An import is writing to the project; try again when it ends."},
    ("labeling.projects.api_waves.WaveClose", "POST"): {409: "The wave is already closed."},
    ("labeling.projects.api_waves.WaveOpen", "POST"): {409: "Another wave is open, or this one cannot open."},
    ("labeling.projects.api_waves.WavePlan", "POST"): {409: "Nothing can be planned now, or a retrain is under way (it plans the next wave itself); the reason says why."},
    ("labeling.projects.api_waves.ModelRetrain", "POST"): {409: "A retrain cannot start now (the reason says why).",
                                                      503: "The broker could not take the retrain; the run is failed with the reason."},
    ("labeling.projects.api_waves.ModelFinal", "POST"): {409: "The final model cannot start now: a retrain is under way or nothing is labeled yet (the reason says why)."},
    ("labeling.projects.api.Predict", "POST"): {409: "The project has no active model yet."},
    ("labeling.annotations.api.AnswerView", "POST"): {
        409: "Well-formed but not storable now: the slot is taken, the item was already answered."},
    ("labeling.annotations.api.ReviewQueueView", "GET"): {400: "limit or reason is not valid."},
    ("labeling.annotations.api.ReviewQueueView", "POST"): {409: "The task was already resolved."},
    ("labeling.export.api.ExportLabels", "GET"): {403: "Only the project's leads and admins export."},
    ("labeling.export.api.ExportModel", "GET"): {403: "Only the project's leads and admins export.",
                                                  409: "The project has no active model to export."},
    ("drf_spectacular.views.SpectacularAPIView", "GET"): {404: "An unknown format was asked for."},
}


class ErrorDocumentingAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in sorted(self.error_answers().items()):
            if str(code) in responses:
                continue  # the view documented this answer itself
            body = VALIDATION_ERROR if code == 400 else ErrorSerializer
            responses[str(code)] = self._get_response_for_code(
                OpenApiResponse(body, description=description), str(code), direction=direction)
        return responses

    def error_answers(self) -> dict[int, str]:
        view, method = self.view, self.method.upper()
        permissions = getattr(view, "permission_classes", ())
        needs_login = bool(permissions) and AllowAny not in permissions
        lead_only = getattr(view, "lead_required", False) or getattr(view, "lead_only", False)
        answers: dict[int, str] = {}
        if needs_login:
            answers[401] = "No valid credentials: log in, or send 'Authorization: Token <key>' (expired tokens too)."
            if method in UNSAFE or lead_only:
                answers[403] = "The user's role does not allow this (or, with session auth, the CSRF token is missing)."
        if "{" in self.path or (method == "GET" and self._is_list_view() and getattr(view, "pagination_class", None)):
            answers[404] = "No such project or object, or the user is not a member of the project; or no such page."
        if method in UNSAFE:
            answers[400] = "The request is not valid; the body names each field at fault."
        if getattr(view, "throttle_classes", None):
            answers[429] = "Too many attempts: wait for the number of seconds in the Retry-After header."
        cls = type(view)
        answers.update(VIEW_ANSWERS.get((f"{cls.__module__}.{cls.__qualname__}", method), {}))
        return answers
