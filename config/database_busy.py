"""The demo's SQLite, busy: a request that met another connection's write lock past SQLite's busy
timeout (settings: 30 s; an import's write holds the one write lock until it commits, tens of seconds
on a large file) answers 503 with what happened and when to try again, where it was a 500 with
"OperationalError: database is locked". JSON under /api/ ({"detail": ...}), the site's own page
otherwise (templates/503.html), each with Retry-After. Nothing of the refused write is stored: the
error ends its transaction, which rolls back (an autocommit statement that fails writes nothing);
the writes take the lock at their transaction's BEGIN (IMMEDIATE, see settings), before any row.
PostgreSQL waits on row locks instead, and any error of its is left to Django."""
import logging

from django.db import OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .not_found import API_PREFIX

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 10
DATABASE_BUSY = ("The demo's database is busy with another write (most likely an import), so nothing was saved. "
                 "Try again in a moment.")


def database_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked": the busy timeout ran out waiting for another writer."""
    return isinstance(exc, OperationalError) and connection.vendor == "sqlite" and "database is locked" in str(exc)


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_locked(exception):
            return None
        logger.warning("%s %s: the database was locked by another write; answered 503", request.method,
                       request.path)
        if request.path_info.startswith(API_PREFIX):
            response = JsonResponse({"detail": DATABASE_BUSY}, status=503)
        else:  # rendered without the request: its context processors would read the locked database
            response = HttpResponse(render_to_string("503.html", {"message": DATABASE_BUSY}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
