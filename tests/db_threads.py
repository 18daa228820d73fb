"""Shared pieces of the race tests (test_lease_races, test_concurrency_races,
test_leasing_concurrency): a callable run in a thread on its own database connection, and how
many backends wait on a row lock (``postgres_only`` is in conftest). Holds no tests itself."""
import threading
import time

from django.db import connection


def in_thread(target, *args):
    """Run target in a thread with its own database connection; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = target(*args)
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def backends_waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def wait_until(predicate, timeout=10.0) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
