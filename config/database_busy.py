"""The demo's SQLite, busy: a request that met another connection's write lock past SQLite's busy
timeout (settings: 30 s; an import's write holds the one write lock until it commits, tens of seconds
on a large file) answers 503 with what happened and when to try again, where it was a 500 with
"OperationalError: database is locked". JSON under /api/ ({"detail": ...}), the site's own page
otherwise (templates/503.html), each with Retry-After. Nothing of the refused write is stored: the
error ends its transaction, which rolls back (an autocommit statement that fails writes nothing);
the writes take the lock at their transaction's BEGIN (IMMEDIATE, see settings), before any row.
PostgreSQL waits on row locks instead, and any error of its is left to Django.

The lock can be met outside the view too, and Django answers those before any process_exception
sees them: SessionMiddleware's save on the way out (a failed UPDATE becomes SessionInterrupted, a
400 saying the session was deleted, with DEBUG on the debug page; a failed INSERT a 500), or a
middleware reading the session while another connection commits. Hence LockAwareSessionMiddleware
in place of Django's, and DatabaseBusyMiddleware placed outside every middleware that reads the
database: a 500 that Django made of an uncaught lock (the got_request_exception receiver marks
the request) is answered as the view's lock is."""
import logging
import sys

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.signals import got_request_exception
from django.db import DatabaseError, OperationalError, connection
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .not_found import API_PREFIX

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 10
DATABASE_BUSY = ("The demo's database is busy with another write (most likely an import), so nothing was saved. "
                 "Try again in a moment.")
# Set on a request whose uncaught exception Django answered with a 500 was a lock.
LOCKED_ATTRIBUTE = "database_busy_locked"


def database_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked": the busy timeout ran out waiting for another writer."""
    return isinstance(exc, OperationalError) and connection.vendor == "sqlite" and "database is locked" in str(exc)


def caused_by_lock(exc: BaseException | None) -> bool:
    """``exc`` is the lock, or was raised while handling it (Django's session save turns the
    lock into UpdateError, then SessionInterrupted)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if database_locked(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def database_busy_response(request) -> HttpResponse:
    logger.warning("%s %s: the database was locked by another write; answered 503", request.method, request.path)
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse({"detail": DATABASE_BUSY}, status=503)
    else:  # rendered without the request: its context processors would read the locked database
        response = HttpResponse(render_to_string("503.html", {"message": DATABASE_BUSY}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@receiver(got_request_exception, dispatch_uid="config.database_busy.mark_locked_request")
def mark_locked_request(sender, request=None, **kwargs):
    # Sent while Django handles the uncaught exception, so it is the one sys.exc_info() names.
    if request is not None and caused_by_lock(sys.exc_info()[1]):
        setattr(request, LOCKED_ATTRIBUTE, True)


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, LOCKED_ATTRIBUTE, False):
            return database_busy_response(request)
        return response

    def process_exception(self, request, exception):
        # The view's lock: answered here, so the 503 still passes the inner middlewares' headers.
        return database_busy_response(request) if caused_by_lock(exception) else None


class LockAwareSessionMiddleware(SessionMiddleware):
    """Django's, but a session save that met the lock answers 503: the user's sign-in or change to
    the session was not kept, and trying again once the write has ended is what helps."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except (SessionInterrupted, DatabaseError) as exc:
            if not caused_by_lock(exc):
                raise
            return database_busy_response(request)
