"""Refresh PostgreSQL's planner statistics after bulk writes (an import, a planned wave), so the
next queries are planned on the tables as they are: autovacuum may be off or late, and a plan
made on a table believed empty can turn an index lookup into a scan."""
from django.db import connection, transaction


def analyze_tables(*models) -> None:
    """ANALYZE the models' tables (PostgreSQL only); inside a transaction, once it commits (the
    rows it wrote are then visible to the sample)."""
    if connection.vendor != "postgresql":
        return
    if connection.in_atomic_block:
        # The callback analyzes directly: re-checking would register it again whenever the commit
        # callbacks run inside an outer transaction (a test's), without end.
        transaction.on_commit(lambda: _analyze(models))
        return
    _analyze(models)


def _analyze(models) -> None:
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
