"""The import lock: imports into one project take turns, from validation to commit (see
``project_imports_locked``). A PostgreSQL advisory lock; a file lock or the process's own lock
without PostgreSQL. Also the write's share lock on the project's sources (``hold_sources``) and the
bounded wait of a change to them (``lock_sources_for_change``)."""
from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.transaction import TransactionManagementError

from config.database_busy import database_locked
from labeling.projects.models import Project, Source

logger = logging.getLogger(__name__)
_IMPORT_LOCK_NAMESPACE = 7201  # first key of pg_advisory_(xact_)lock(namespace, project id)
# Without PostgreSQL and without a database file (tests' in-memory SQLite) imports take turns here.
_IN_PROCESS_IMPORT_LOCK = threading.RLock()
# How long a change to a project's sources waits for an import's write is
# LONGTAIL_SOURCE_LOCK_WAIT_SECONDS: a save of the sources page or the admin waits no longer than a
# person waits for a page, and an import's write can take minutes.
SOURCES_BUSY = "an import is writing to this project; try again when it ends"
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ends a wait


class SourcesBusy(ValidationError):
    """A change to the project's sources refused because an import kept them locked past the wait."""

    def __init__(self):
        super().__init__(SOURCES_BUSY, code="import_writing")


@contextmanager
def project_imports_locked(project: Project, on_wait: Callable[[], None] | None = None):
    """Imports into one project run one after the other, from validation to commit: the second
    validates against the first's committed items, so the same file uploaded twice at once is
    refused the second time (rows already in the project) like any re-import, and each import
    groups duplicates with the other's items. A session-level advisory lock, not a lock on the
    project row: wave planning and training, which lock that row, are not held up by a long
    import. Released on the way out; should that fail, closing the connection releases it.

    ``on_wait`` is called once, before waiting, when another import holds the lock (so its page
    can say why nothing moves)."""
    if connection.vendor != "postgresql":
        with _sqlite_imports_locked(project, on_wait):
            yield
        return
    key = [_IMPORT_LOCK_NAMESPACE, project.id]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        if not cursor.fetchone()[0]:
            if on_wait:
                on_wait()
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except DatabaseError:
            logger.exception("could not release the import lock of project %s: closing the connection", project.pk)
            connection.close()


@contextmanager
def _sqlite_imports_locked(project: Project, on_wait: Callable[[], None] | None):
    """Without PostgreSQL (the demo's SQLite): an exclusive ``flock`` on a file beside the
    database, so an ``import_items`` run from a shell takes turns with the server's imports
    (another process); threads of one process conflict on it as well, each opening its own file.
    An in-memory database (tests) has no other process: the process's lock is enough."""
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        if not _IN_PROCESS_IMPORT_LOCK.acquire(blocking=False):
            if on_wait:
                on_wait()
            _IN_PROCESS_IMPORT_LOCK.acquire()
        try:
            yield
        finally:
            _IN_PROCESS_IMPORT_LOCK.release()
        return
    with open(f"{name}.import-{project.id}.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_project_imports(project: Project) -> None:
    """The same lock for the current transaction, for a caller of ``importer.write`` outside
    run_import (which already holds it: a session's advisory locks do not block each other)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_IMPORT_LOCK_NAMESPACE, project.id])


def hold_sources(project: Project) -> dict[str, int]:
    """name → id of the project's sources, each share-locked (FOR KEY SHARE) until the transaction
    ends: the import's write refers to them, and foreign keys are checked at commit, so a source
    deleted while the rows were written failed the import's commit with the database's message.
    Held, projects.services.replace_sources (which locks every source of the project FOR UPDATE
    first) waits for the import and then finds the source's items (its removal refused) or renames
    it under them; a source gone before the lock is refused by the write, naming it at its row. All
    the project's sources, not only those the file names: the sources page's save locks them all
    anyway, and one it would add under a name the file creates then waits as well."""
    if connection.vendor != "postgresql":
        return dict(Source.objects.filter(project=project).values_list("name", "id"))
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT name, id FROM "{Source._meta.db_table}" WHERE project_id = %s ORDER BY id FOR KEY SHARE',
                       [project.pk])
        return dict(cursor.fetchall())


def lock_sources_for_change(project: Project) -> None:
    """Lock every source of the project (FOR UPDATE, in id order, as projects.services.replace_sources
    takes them) until the transaction ends, for a change to them: the sources page, the API's PUT
    and the Django admin's project page take it before they read or check any source. An import's
    write share-locks them (``hold_sources``), so the change waits for it, but at most
    LONGTAIL_SOURCE_LOCK_WAIT_SECONDS (a local lock_timeout for this statement only, the previous one
    put back) and is then refused with SourcesBusy, which each path shows as its message: before,
    the page and the API waited as long as the import wrote, and the admin, whose check for a
    source's items ran before the wait, failed its commit on the items' foreign key (a 500).
    Without PostgreSQL there are no row locks to wait for: the rows are only read. SQLite's wait is
    for its one write lock, at the transaction's BEGIN, before this runs: ``sources_change_atomic``
    bounds that one."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("lock_sources_for_change needs the transaction of the change it guards")
    sources = Source.objects.select_for_update().filter(project=project).order_by("pk").values_list("pk", flat=True)
    if connection.vendor != "postgresql":
        list(sources)
        return
    wait = settings.LONGTAIL_SOURCE_LOCK_WAIT_SECONDS
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{max(1, round(wait * 1000))}ms"])
        try:
            with transaction.atomic():  # a savepoint: a wait that timed out leaves the transaction usable
                list(sources)
        except OperationalError as exc:
            cause = exc.__cause__
            if (getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)) == _LOCK_NOT_AVAILABLE:
                raise SourcesBusy() from exc
            raise
        finally:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


@contextmanager
def sources_change_atomic(project: Project) -> Iterator[None]:
    """The transaction of a change to the project's sources (the caller then takes
    ``lock_sources_for_change`` in it): ``transaction.atomic()``, except where the wait is at its
    start. SQLite (the demo) has no row locks but one write lock per database, which its
    transactions take at BEGIN (IMMEDIATE, see settings) and an import's write holds until it
    commits, so a change waited for the whole import there, and past SQLite's busy timeout failed
    with "database is locked" (a 500). Here the BEGIN waits at most LONGTAIL_SOURCE_LOCK_WAIT_SECONDS;
    if an import of the project is running by then, SourcesBusy as on PostgreSQL; if not (another
    writer holds the database), the usual wait goes on. Inside a transaction already begun there is
    no BEGIN to bound."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with ExitStack() as stack:
        try:
            with _sqlite_busy_timeout(settings.LONGTAIL_SOURCE_LOCK_WAIT_SECONDS):
                stack.enter_context(transaction.atomic())
        except OperationalError as exc:
            if not database_locked(exc):
                raise
            if _sqlite_import_running(project):
                raise SourcesBusy() from exc
            stack.enter_context(transaction.atomic())
        yield


@contextmanager
def _sqlite_busy_timeout(seconds: float) -> Iterator[None]:
    """SQLite's busy timeout (how long a statement waits for another connection's lock) set to
    ``seconds`` for the block, then put back to the connection's own (the settings' ``timeout``)."""
    connection.ensure_connection()
    own = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5.0))
    raw = connection.connection
    raw.execute(f"PRAGMA busy_timeout = {max(1, round(seconds * 1000))}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout = {round(own * 1000)}")


def _sqlite_import_running(project: Project) -> bool:
    """Whether an import into the project holds its import lock (``_sqlite_imports_locked``) now.
    Not read from the database: the import's write may be holding it. Tried without waiting and let
    go at once; an import starting in that instant waits that instant and notes it on its batch."""
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        if not _IN_PROCESS_IMPORT_LOCK.acquire(blocking=False):
            return True
        _IN_PROCESS_IMPORT_LOCK.release()
        return False
    with open(f"{name}.import-{project.id}.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
