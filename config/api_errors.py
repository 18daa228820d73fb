"""The API's exception handler (REST_FRAMEWORK's EXCEPTION_HANDLER): DRF's, plus JSON answers for
request bodies DRF cannot read, which it leaves to Django's bare HTML pages.

- A JSON or form body over DATA_UPLOAD_MAX_MEMORY_SIZE (and a multipart form whose fields, files
  not counted, pass it) raises RequestDataTooBig when the view first reads request.data: 413 with
  the limit, where Django answered "Bad Request (400)" in HTML. Too many form fields or files: 400.
- JSON nested past Python's recursion limit: 400, as config/parsers.JSONParser answers it. Views
  that name DRF's own parsers (DRF's ObtainAuthToken, under POST /api/auth/token/) do not get that
  parser, so a RecursionError raised inside any parser's parse() is answered the same way here.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .parsers import NESTED_TOO_DEEPLY


def body_too_large_message(limit: int) -> str:
    return (f"The request body is too large: the API reads at most {limit:,} bytes ({limit / 2**20:.1f} MiB) of "
            "JSON or form data per request. Send fewer rows per request; files to import go to "
            "POST /api/projects/<slug>/imports/ as a multipart upload, which has its own limit.")


def raised_by_a_parser(exc: BaseException) -> bool:
    """Whether a frame of the exception's traceback is a request parser's own method: the error
    came from reading the body, not from the view's work (where a RecursionError is a bug)."""
    frame = exc.__traceback__
    while frame is not None:
        if isinstance(frame.tb_frame.f_locals.get("self"), BaseParser):
            return True
        frame = frame.tb_next
    return False


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": body_too_large_message(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response({"detail": f"The form is refused: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RecursionError) and raised_by_a_parser(exc):
        exc = ParseError(NESTED_TOO_DEEPLY)
    return drf_exception_handler(exc, context)
