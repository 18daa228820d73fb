"""An item's metadata is a JSON object: what every import stores, what the export's ``meta.<key>``
columns and the annotation page read keys from. ``JsonIsObject`` says so in SQL, for the database's
CHECK constraint on ``Item.metadata`` (items migration 0009) and for the data migration that
rewrote what older versions stored (0008); ``metadata_problem`` says why a value is refused."""
from django.db import NotSupportedError, models


class JsonIsObject(models.Func):
    """True where the JSON expression holds an object. Django has no portable lookup for a JSON
    value's type, so each database the app runs on gets its own function (PostgreSQL's jsonb,
    SQLite's JSON1, which Django's JSONField already needs); another one is refused when the
    constraint is created, not silently left unchecked."""

    output_field = models.BooleanField()
    arity = 1

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(f"JsonIsObject has no SQL for {connection.vendor}: only PostgreSQL and SQLite")

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="jsonb_typeof(%(expressions)s) = 'object'",
                              **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="json_type(%(expressions)s) = 'object'",
                              **extra_context)


def json_kind(value) -> str:
    """What a JSON value that is not an object is, in words."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false value"
    if value is None:
        return "null"
    return "number"


def metadata_problem(value) -> str | None:
    """Why ``value`` cannot be an item's metadata, or None."""
    if isinstance(value, dict):
        return None
    return (f'Metadata must be a JSON object of named fields, such as {{"channel": "web"}}, or empty for none; '
            f"got a JSON {json_kind(value)}.")


def as_object(value) -> dict:
    """Metadata an older version stored that is not an object, as the object that keeps it: JSON
    null (nothing) is {}, anything else {"value": <it>}, which the CSV export writes as the column
    ``meta.value`` and an import reads back."""
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}
