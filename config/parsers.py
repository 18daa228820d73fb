"""The API's JSON parser: DRF's, except that a body nested deeper than any request the API serves
answers 400 like any other malformed JSON.

json.load recurses once per nesting level and raises RecursionError past the interpreter's limit
(about 1,000 levels by default); DRF's parser turns only ValueError into a ParseError, so
'{"username": [[[...]]]}' with a few thousand brackets was a 500 on any endpoint, the unauthenticated
token endpoint included. A library loaded into the process may raise that limit, after which such a
body parsed and reached the views; so the depth is also checked on the parsed value, with a bound of
its own. No request the API serves nests more than a few levels."""
from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_TOO_DEEPLY = "JSON parse error - malformed JSON: nested too deeply."
MAX_DEPTH = 64  # levels of objects and arrays: far more than any request body the API takes


def nesting_depth(value, limit: int = MAX_DEPTH) -> int:
    """Levels of dicts and lists in ``value``, counted without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(NESTED_TOO_DEEPLY) from exc
        if nesting_depth(data) > MAX_DEPTH:
            raise ParseError(NESTED_TOO_DEEPLY)
        return data
