"""The API's JSON renderer: DRF's, except that a lone UTF-16 surrogate in the payload goes out as
U+FFFD instead of failing the response.

A JSON request body may carry "\\ud800" (json.loads accepts it), and DRF's own messages quote input
back ('"\\ud800" is not a valid choice.'). With UNICODE_JSON on (so "café" stays readable in
responses) such a string cannot be encoded as UTF-8, and the 400 the client earned became a 500.
Replacing it here covers every endpoint and every message at once. Form and query-string input
cannot bring one in: Django decodes them with errors="replace", so the pages need no such step."""
from __future__ import annotations

import re

from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


class SurrogateReplacingEncoder(JSONEncoder):
    """DRF's encoder; lone surrogates in the output text become U+FFFD. With ensure_ascii off they
    are written as they are, and only inside string literals, so the text stays valid JSON."""

    def encode(self, o):
        return LONE_SURROGATE.sub(REPLACEMENT, super().encode(o))


class _ReplacingJSONRenderer(renderers.JSONRenderer):
    encoder_class = SurrogateReplacingEncoder


class JSONRenderer(renderers.JSONRenderer):
    """Renders as DRF does; only a payload that fails to encode is rendered again with the lone
    surrogates replaced, so the usual response pays nothing for the scan."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _ReplacingJSONRenderer().render(data, accepted_media_type, renderer_context)
