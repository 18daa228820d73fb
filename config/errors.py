"""The 400 and 500 handlers (config/urls.py handler400 / handler500, DEBUG off). 400: a request Django
refuses before any view runs (more form fields or more data than the settings allow) answers the
site's page saying which (templates/400.html), JSON under /api/. 500: the site's own page (templates/500.html)
in place of Django's bare "Server Error (500)", and JSON under /api/ ({"detail": ...}), as the
API's other errors are (docs/api.md). Most often the database did not answer (an outage, a
restart): the answer says so and to try again in a moment. The page is rendered without the
request, as the 503 page is: its context processors would read the session and the user from the
database that is down, and an error page that fails is a bare 500 again."""
from __future__ import annotations

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .database_retry import DATABASE_UNREACHABLE
from .not_found import API_PREFIX

DATABASE_DOWN = ("The service is temporarily unavailable: its database did not answer, so nothing was saved. "
                 "Try again in a moment.")
SERVER_ERROR = ("An error occurred on the server and the request was not completed; it has been logged. "
                "Try again; if it keeps happening, tell the site's administrator.")
TOO_MANY_FIELDS = ("The form sent more fields than the site accepts ({limit:,}), so nothing was saved. A page with "
                   "very many rows (the labels page of a project with more than 1,000 labels) cannot be saved at "
                   "once: edit those rows through the API.")
TOO_BIG = ("The form sent more data than the site accepts ({limit:,} bytes), so nothing was saved. "
           "Send less at once (shorter texts, fewer rows).")
BAD_REQUEST = "The request could not be read, so nothing was saved."
# Should the template itself fail: still an answer in the site's words.
FALLBACK_PAGE = "<!doctype html><title>Error · Longtail</title><h1>Something went wrong</h1><p>{}</p>"


def error_answer(request, status: int, message: str):
    """JSON under /api/, else the site's page for ``status`` rendered without the request (the
    session or the user may be what failed), or the fallback should the template itself fail."""
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": message}, status=status)
    try:
        page = render_to_string(f"{status}.html", {"message": message})
    except Exception:  # noqa: BLE001 - the error page must answer whatever else is broken
        page = FALLBACK_PAGE.format(message)
    return HttpResponse(page, status=status)


def server_error(request):
    return error_answer(request, 500, DATABASE_DOWN if isinstance(sys.exc_info()[1], DATABASE_UNREACHABLE)
                        else SERVER_ERROR)


def bad_request_message(exception) -> str:
    if isinstance(exception, TooManyFieldsSent):
        return TOO_MANY_FIELDS.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    if isinstance(exception, RequestDataTooBig):
        return TOO_BIG.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return BAD_REQUEST


def bad_request(request, exception=None):
    return error_answer(request, 400, bad_request_message(exception))
