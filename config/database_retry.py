"""Writes that must land even across a short database outage: the record of how a piece of work
ended (an import's batch, a background run). Were such a write given up at the first refused
connection, the work would stay "running" until the stale sweeps failed it minutes later with a
reason that is not true ("its worker stopped"), so it is tried again, for a bounded time, while
the database does not answer. Any other error is raised at once."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

from learner.deadline import Deadline

logger = logging.getLogger(__name__)

# What a refused, dropped or closed connection raises (a constraint or a bad query raises others).
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
RECORD_WITHIN_SECONDS = 60.0  # how long a final state write keeps trying
T = TypeVar("T")


def unreachable_reason(exc: BaseException) -> str:
    """The first line of a connection error, as a message shows it."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def until_database_answers(write: Callable[[], T], *, what: str, within: float = RECORD_WITHIN_SECONDS) -> T:
    """``write()``, tried again while the database is unreachable, for up to ``within`` seconds
    (0.5 s, then doubling up to 5 s, between tries); the last error is raised past that. Each try
    starts on a fresh connection: the one that saw the outage is broken for good. Inside a
    transaction nothing is tried again (the transaction is lost with its connection)."""
    deadline = Deadline(within)
    pause = 0.5
    while True:
        try:
            return write()
        except DATABASE_UNREACHABLE as exc:
            if connection.in_atomic_block or pause > deadline.remaining:
                raise
            logger.warning("%s: the database did not answer (%s); trying again in %.1f s", what,
                           unreachable_reason(exc), pause)
            try:
                connection.close()
            except DATABASE_UNREACHABLE:
                pass  # closing a dead connection may fail too; it is dropped all the same
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
