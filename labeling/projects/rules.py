"""Keyword / regex rules that hint at rare labels. Plain Python, no Django."""
import re


def compile_rule(kind: str, pattern: str) -> re.Pattern:
    """A compiled, case-insensitive matcher for a rule; ValueError names what is wrong."""
    if not pattern or not pattern.strip():
        raise ValueError("the pattern is empty")
    if kind == "keyword":
        # Whole-word match so "card" does not hit "cardigan"; phrases keep their spaces.
        return re.compile(r"(?<!\w)" + re.escape(pattern.strip()) + r"(?!\w)", re.IGNORECASE)
    if kind == "regex":
        try:
            return re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
    raise ValueError(f"unknown rule kind {kind!r}")
