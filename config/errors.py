"""The 500 handler (config/urls.py handler500, DEBUG off): the site's own page (templates/500.html)
in place of Django's bare "Server Error (500)", and JSON under /api/ ({"detail": ...}), as the
API's other errors are (docs/api.md). Most often the database did not answer (an outage, a
restart): the answer says so and to try again in a moment. The page is rendered without the
request, as the 503 page is: its context processors would read the session and the user from the
database that is down, and an error page that fails is a bare 500 again."""
from __future__ import annotations

import sys

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .database_retry import DATABASE_UNREACHABLE
from .not_found import API_PREFIX

DATABASE_DOWN = ("The service is temporarily unavailable: its database did not answer, so nothing was saved. "
                 "Try again in a moment.")
SERVER_ERROR = ("An error occurred on the server and the request was not completed; it has been logged. "
                "Try again; if it keeps happening, tell the site's administrator.")
# Should the template itself fail: still an answer in the site's words.
FALLBACK_PAGE = "<!doctype html><title>Error · Longtail</title><h1>Something went wrong</h1><p>{}</p>"


def server_error(request):
    message = DATABASE_DOWN if isinstance(sys.exc_info()[1], DATABASE_UNREACHABLE) else SERVER_ERROR
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": message}, status=500)
    try:
        page = render_to_string("500.html", {"message": message})
    except Exception:  # noqa: BLE001 - the error page must answer whatever else is broken
        page = FALLBACK_PAGE.format(message)
    return HttpResponse(page, status=500)
