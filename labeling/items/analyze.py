"""Refresh PostgreSQL's planner statistics after bulk writes (an import, a planned wave), so the
next queries are planned on the tables as they are: autovacuum may be off or late, and a plan
made on a table believed empty can turn an index lookup into a scan."""
from django.db import connection


def analyze_tables(*models) -> None:
    """ANALYZE the models' tables (PostgreSQL only; outside a transaction block, else nothing)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
