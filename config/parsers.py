"""The API's JSON parser: DRF's, except that a body nested deeper than Python's recursion limit
answers 400 like any other malformed JSON.

json.load recurses once per nesting level and raises RecursionError past the interpreter's limit
(about 1,000 levels); DRF's parser turns only ValueError into a ParseError, so
'{"username": [[[...]]]}' with a few thousand brackets was a 500 on any endpoint, the unauthenticated
token endpoint included. No request the API serves nests more than a few levels."""
from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_TOO_DEEPLY = "JSON parse error - malformed JSON: nested too deeply."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(NESTED_TOO_DEEPLY) from exc
