"""Keyword / regex rules that hint at rare labels. Plain Python, no Django."""
import re
from collections.abc import Iterable, Sequence

import numpy as np


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


def match_rules(rules: Iterable[tuple[str, re.Pattern]], texts: Sequence[str],
                label_index: dict[str, int]) -> dict[int, np.ndarray]:
    """Rows of ``texts`` each label's rules match: label index → sorted unique row numbers.

    ``rules`` are (label name, compiled matcher) pairs; a rule whose label is not in
    ``label_index`` (a label the model does not know yet) is left out. The product's pool and the
    simulation both plan from this, so a rule matches the same rows in both.
    """
    matched: dict[int, list[int]] = {}
    for label, matcher in rules:
        k = label_index.get(label)
        if k is None:
            continue
        rows = [row for row, text in enumerate(texts) if matcher.search(text)]
        matched.setdefault(k, []).extend(rows)
    return {k: np.unique(np.asarray(v, dtype=np.int64)) for k, v in matched.items() if v}
