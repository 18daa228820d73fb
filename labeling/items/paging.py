"""Keyset (cursor) pagination for the item browser and the answers list: each page is a
``WHERE key < last_key ORDER BY key LIMIT n`` walk, so page 2,000 costs what page 1 costs (an
offset would make PostgreSQL read and drop every earlier row), and a page stops reading as soon
as it has its rows.

Counting is different: to say "3,740 match" the database must look at every candidate row (all
186,000 items containing a common word, to keep the 3,740 that pass the other filters), which
costs several times a page on 1M items (bench/results/browse.json). So the count is only given
when asked for (``count=true``) and stops at COUNT_CAP."""
from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from . import browse

COUNT_CAP = 10_000
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def wants_count(request) -> bool:
    value = str(request.query_params.get("count", "")).strip().lower()
    if value not in TRUE | FALSE:
        raise ValidationError({"count": ["Must be true or false."]})
    return value in TRUE


class ItemCursorPagination(CursorPagination):
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


class AnswerCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-id",)
