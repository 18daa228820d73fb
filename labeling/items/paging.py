"""Keyset (cursor) pagination for the item browser and the answers list: each page is a
``WHERE key < last_key ORDER BY key LIMIT n`` walk, so page 2,000 costs what page 1 costs (an
offset would make PostgreSQL read and drop every earlier row), and a page stops reading as soon
as it has its rows.

Counting is different: to say "3,740 match" the database must look at every candidate row (all
186,000 items containing a common word, to keep the 3,740 that pass the other filters), which
costs several times a page on 1M items (bench/results/browse.json). So the count is only given
when asked for (``count=true``) and stops at COUNT_CAP."""
from __future__ import annotations

import json
import math
from base64 import b64decode, b64encode
from binascii import Error as Base64Error
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.db.models.expressions import Col
from django.db.models.sql.constants import INNER
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from . import browse
from .filters import YES_NO_ACCEPTED, cursor_version, yes_no_value

COUNT_CAP = 10_000
BIGINT = 2**63  # a cursor value the database could not compare with (an edited link) is a bad cursor


def wants_count(request) -> bool:
    """count=… read with the spellings every yes/no filter takes; left out or empty: no count."""
    raw = request.query_params.get("count", "")
    value = False if raw == "" else yes_no_value(raw)
    if value is None:
        raise ValidationError({"count": [f"Must be one of {YES_NO_ACCEPTED}; got {raw[:50]!r}."]})
    return value


class CheckedPageSize:
    """page_size read strictly: DRF's own reading falls back to the default page size for a value
    that is not a positive whole number, so page_size=0 answered 50 rows as if it were fine. A
    value above max_page_size still gets max_page_size (documented)."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        # Plain digits only: int() also takes " 5", "+5", "5_0" and other scripts' digits.
        size = int(raw) if raw.isascii() and raw.isdigit() else 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [
                f"Must be a whole number from 1 to {self.max_page_size} (larger gives {self.max_page_size}); "
                f"got {raw[:50]!r}."]})
        return min(size, self.max_page_size)


@dataclass(frozen=True)
class KeysetCursor:
    """A page boundary: the sort key (one value per ordering field) of the row next to it, and
    which way to walk from it. ``key`` None with ``reverse`` is the last page. ``version``: the
    model version whose scores the walk reads (its sort or filters), kept for every later page:
    the active one's order changes at a retrain (filters.ItemFilterSet.active_version reads it)."""

    reverse: bool
    key: tuple | None
    version: int | None = None


def _flipped(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(field[1:] if field.startswith("-") else f"-{field}" for field in ordering)


def _beyond(field: str, value, descending: bool, nullable: bool) -> Q:
    """Rows that come after ``value`` in the ``field`` / ``-field`` order. PostgreSQL places NULL
    above every value (last ascending, first descending), and so must the comparison."""
    if descending:
        return Q(**{f"{field}__isnull": False}) if value is None else Q(**{f"{field}__lt": value})
    if value is None:
        return Q(pk__in=[])  # nothing sorts above NULL
    above = Q(**{f"{field}__gt": value})
    return above | Q(**{f"{field}__isnull": True}) if nullable else above


def _same(field: str, value) -> Q:
    return Q(**{f"{field}__isnull": True}) if value is None else Q(**{field: value})


def _from(field: str, value, descending: bool, nullable: bool) -> Q:
    """Rows at or after ``value``: implied by after()'s OR, repeated as a plain range so that an
    index on the field (the scores' (model_version, top_prob)) starts its scan there instead of
    reading every earlier row of a deep page."""
    if value is None:
        return Q() if descending else Q(**{f"{field}__isnull": True})
    if descending:
        return Q(**{f"{field}__lte": value})
    at_or_above = Q(**{f"{field}__gte": value})
    return at_or_above | Q(**{f"{field}__isnull": True}) if nullable else at_or_above


def after(ordering: tuple[str, ...], key: tuple, nullable: frozenset[str] = frozenset()) -> Q:
    """Rows strictly after ``key`` in ``ordering``, compared on the whole tuple: (a, b) > (x, y)
    is a > x, or a = x and b > y. Comparing on the first field alone (DRF) needs an offset to
    step over ties, and that offset counts from the wrong end when walking back. ``nullable``:
    the fields that may hold NULL (the others get a tighter range)."""
    condition = None
    for field, value in reversed(list(zip(ordering, key, strict=True))):
        name, descending = field.lstrip("-"), field.startswith("-")
        step = _beyond(name, value, descending, name in nullable)
        condition = step if condition is None else step | (_same(name, value) & condition)
    if len(ordering) == 1:
        return condition
    first = ordering[0].lstrip("-")
    return _from(first, key[0], ordering[0].startswith("-"), first in nullable) & condition


def nullable_fields(queryset: QuerySet, names) -> frozenset[str]:
    """The names among ``names`` whose value may be NULL in ``queryset``: a nullable model field,
    a column reached through an outer join, or any computed annotation (not known, so assumed)."""
    query, found = queryset.query, set()
    for name in names:
        annotation = query.annotations.get(name)
        if annotation is None:
            null = queryset.model._meta.get_field(name).null
        elif isinstance(annotation, Col):
            join = query.alias_map.get(annotation.alias)
            null = annotation.target.null or getattr(join, "join_type", INNER) != INNER
        else:
            null = True
        if null:
            found.add(name)
    return frozenset(found)


class KeysetPagination(CheckedPageSize, CursorPagination):
    """Cursor pagination on the whole ordering tuple, which must end in a unique field (id): the
    cursor holds every field's value of the boundary row, so a page is exactly the rows after (or,
    going back, before) it, ties included, and walking back gives the pages walking forward did."""

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.ordering = tuple(self.get_ordering(request, queryset, view))
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)
        key = self.cursor.key if self.cursor else None
        ordering = _flipped(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*ordering)
        if key is not None:
            nullable = nullable_fields(queryset, [field.lstrip("-") for field in ordering])
            queryset = queryset.filter(after(ordering, key, nullable))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if reverse:
            self.page.reverse()
            self.has_previous, self.has_next = more, key is not None
        else:
            self.has_next, self.has_previous = more, key is not None
        return self.page

    def _key(self, row) -> tuple:
        names = [field.lstrip("-") for field in self.ordering]
        return tuple(row[name] if isinstance(row, dict) else getattr(row, name) for name in names)

    def get_next_link(self):
        if not self.has_next:
            return None
        if not self.page:
            # Walked back past the start: nothing lies before the boundary, so the first page
            # starts where the next one would.
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(KeysetCursor(False, self._key(self.page[-1]), self._version()))

    def get_previous_link(self):
        if not self.has_previous:
            return None
        if not self.page:
            return self.encode_cursor(KeysetCursor(True, None, self._version()))  # the last page
        return self.encode_cursor(KeysetCursor(True, self._key(self.page[0]), self._version()))

    def _version(self) -> int | None:
        """The scores' version the rows were read with (the filter set's ``scored_by``), else the cursor's."""
        if self.page:
            return getattr(self.page[0], "scored_by", None)
        return self.cursor.version if self.cursor else None

    def encode_cursor(self, cursor: KeysetCursor) -> str:
        data = {"r": int(cursor.reverse), "k": None if cursor.key is None else list(cursor.key)}
        if cursor.version is not None:
            data["v"] = cursor.version
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
        return replace_query_param(self.base_url, self.cursor_query_param, b64encode(text.encode()).decode("ascii"))

    def decode_cursor(self, request) -> KeysetCursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            data = json.loads(b64decode(encoded.encode("ascii"), validate=True), parse_constant=_no_constant)
            reverse, key, version = data["r"], data["k"], data.get("v")
        except (ValueError, TypeError, KeyError, UnicodeError, AttributeError, Base64Error):
            raise NotFound(self.invalid_cursor_message) from None
        if reverse not in (0, 1) or isinstance(reverse, bool) or not self._valid_key(key, reverse):
            raise NotFound(self.invalid_cursor_message)
        if version is not None and version != cursor_version(encoded):
            raise NotFound(self.invalid_cursor_message)  # edited: not a version id
        return KeysetCursor(bool(reverse), None if key is None else tuple(key), version)

    def _valid_key(self, key, reverse: int) -> bool:
        if key is None:
            return bool(reverse)
        if not isinstance(key, list) or len(key) != len(self.ordering) or not isinstance(key[-1], int):
            return False  # a cursor of another sort, or edited
        return all(value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                     and math.isfinite(value) and abs(value) < BIGINT) for value in key)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a position")


class ItemCursorPagination(KeysetPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = browse.SORTS["newest"]
    count_cap = COUNT_CAP

    def get_ordering(self, request, queryset, view):
        # The filter set has validated ``sort`` (400 on a bad value) before the paginator runs.
        return browse.SORTS.get(request.query_params.get("sort") or "newest", self.ordering)

    def paginate_queryset(self, queryset, request, view=None):
        self.count, self.count_capped = None, False
        if wants_count(request):
            self.count, self.count_capped = browse.capped_count(queryset, self.count_cap)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        return [*super().get_schema_operation_parameters(view), {
            "name": "count", "required": False, "in": "query",
            "description": f"true: also count the matches, up to {COUNT_CAP:,} (costs more than a page on a large "
                           "pool).",
            "schema": {"type": "boolean"},
        }]

    def get_paginated_response(self, data):
        return Response({
            "count": self.count, "count_capped": self.count_capped,
            "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data,
        })

    def get_paginated_response_schema(self, schema):
        base = super().get_paginated_response_schema(schema)
        base["properties"] = {
            "count": {"type": "integer", "nullable": True,
                      "description": f"Matching items, counted up to {COUNT_CAP:,}; null unless count=true."},
            "count_capped": {"type": "boolean", "description": f"True when more than {COUNT_CAP:,} match."},
            **base["properties"],
        }
        base["required"] = ["count", "count_capped", "results"]
        return base


class AnswerCursorPagination(CheckedPageSize, CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-id",)
