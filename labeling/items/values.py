"""What a value read from an import file must be to be stored, checked without recursion: no NUL
and no lone UTF-16 surrogate in any string or key (PostgreSQL cannot store NUL in text or jsonb; a
lone surrogate cannot be encoded as UTF-8), no NaN or Infinity, JSON nested at most MAX_JSON_DEPTH
levels. Plain Python, no Django."""
from __future__ import annotations

import math
import re
import sys

# Nesting levels allowed in one row's JSON (the row object is level 1). Deeper rows are refused
# before they can exhaust Python's recursion limit (json.loads / json.dumps) or PostgreSQL's stack.
MAX_JSON_DEPTH = 32
# The longest metadata field name the setting of the metadata shown to annotators takes
# (projects.setting_checks); the import stores longer keys, so that exports come back whole.
MAX_FIELD_NAME_CHARS = 100
_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")


def storable(value: str | None, limit: int = 2000) -> str | None:
    """Text from the file quoted in an error (a field name, a value) made safe to store and print:
    NUL and lone surrogates escaped, cut to ``limit`` characters."""
    if value is None:
        return None
    if len(value) > limit:
        value = value[:limit] + "…"
    return _UNSTORABLE_CHAR.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def string_problem(value: str) -> str | None:
    bad = _UNSTORABLE_CHAR.search(value)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "contains a NUL character (\\x00 or \\u0000), which cannot be stored"
    return f"contains a lone UTF-16 surrogate (\\u{ord(bad.group()):04x}), which is not valid Unicode text"


def value_problem(value, depth: int = 1) -> str | None:
    """Why a parsed JSON value cannot be stored, or None: NUL or a lone surrogate in a string or key,
    NaN / Infinity, nesting beyond MAX_JSON_DEPTH (counting the row object as level 1). Iterative, so
    that checking a deep value cannot itself run out of stack."""
    stack = [(value, "", depth)]
    while stack:
        current, path, level = stack.pop()
        where = f" (at {path})" if path else ""
        if isinstance(current, str):
            problem = string_problem(current)
            if problem:
                return problem + where
        elif isinstance(current, float):
            if not math.isfinite(current):
                return f"{current} is not a number JSON can store (NaN and Infinity are not valid JSON){where}"
        elif isinstance(current, dict | list):
            if level > MAX_JSON_DEPTH:
                return f"nested more than {MAX_JSON_DEPTH} levels deep"
            if isinstance(current, dict):
                for key, item in reversed(current.items()):
                    problem = string_problem(key)
                    if problem:
                        return f"a key {problem}{where}"
                    stack.append((item, f"{path}.{key}" if path else key, level + 1))
            else:
                for index in range(len(current) - 1, -1, -1):
                    stack.append((current[index], f"{path}[{index}]", level + 1))
    return None


def key_of_trouble(text: str, stop: int | None = None) -> str | None:
    """The top-level key of a JSON object line in effect where parsing gave up: at position ``stop``
    (a syntax error), where nesting passes MAX_JSON_DEPTH, or at an integer with more digits than
    Python converts. A plain scan, only run once json.loads has failed, so that the error can name
    the field."""
    depth, key, last, digits = 0, None, None, 0
    limit = sys.get_int_max_str_digits() or 10**9
    in_string = escaped = False
    start = 0
    for pos, char in enumerate(text):
        if stop is not None and pos >= stop:
            return key
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string, last = False, text[start:pos]
            continue
        digits = digits + 1 if char.isdigit() else 0
        if digits > limit:
            return key
        if char == '"':
            in_string, start = True, pos + 1
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return key
        elif char in "]}":
            depth -= 1
            if depth == 0:  # the row's object is closed: what follows is no field's
                key = None
        elif char == ":" and depth == 1:
            key = last
    return key


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def unique_pairs(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def metadata_key_problem(metadata: dict) -> str | None:
    """Why a row's metadata keys cannot be stored, or None: a key that is empty or only whitespace.
    The CSV export writes key k as the column meta.k, and a header cell is read trimmed: "meta."
    names no key, so such a key would come back as another one, or as none. Any other key is
    stored as it is, so that every export comes back (docs/export.md); a key of more than
    MAX_FIELD_NAME_CHARS characters cannot be shown to annotators (docs/intake.md)."""
    if not any(isinstance(key, str) and not key.strip() for key in metadata):
        return None
    return ("the metadata has a key that is empty or only whitespace (in an exported CSV file: a value in the "
            "column 'meta.'); name the key, or leave the value out")
