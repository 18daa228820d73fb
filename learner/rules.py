"""Keyword / regex rules that hint at rare labels. Plain Python, no Django.

Rules run on RE2 (``google-re2``), an engine whose matching time grows linearly with the text: a
lead's pattern such as ``(?:[\\w\\s]+)+!`` cannot backtrack for minutes the way Python's ``re``
does. RE2 has no lookarounds, backreferences, atomic groups or possessive repeats; a pattern that
uses one is refused with a message that names the construct. Matching over a pool also takes a
time budget (``match_rules(..., budget_s=...)``): past it, matching stops and says so.
"""
from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import re2

# Python's \w is Unicode-aware, RE2's is ASCII only: whole-word keyword matching spells it out.
_WORD = r"\p{L}\p{N}_"
# Constructs RE2 does not have, as a lead would write them, with the name the message uses.
UNSUPPORTED = [
    (re.compile(r"\(\?="), "a lookahead “(?=…)”"),
    (re.compile(r"\(\?!"), "a negative lookahead “(?!…)”"),
    (re.compile(r"\(\?<="), "a lookbehind “(?<=…)”"),
    (re.compile(r"\(\?<!"), "a negative lookbehind “(?<!…)”"),
    (re.compile(r"\(\?P=\w+\)|\\g<\w+>|\\k<\w+>"), "a named backreference"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]"), "a backreference (\\1 … \\9)"),
    (re.compile(r"\(\?>"), "an atomic group “(?>…)”"),
    (re.compile(r"\(\?\("), "a conditional group “(?(…)…)”"),
]
# A possessive repeat is told by RE2's own refusal, not by the pattern's text: "}+" also ends the
# valid "\p{Greek}+", and "*+" sits in the valid class "[*+]". RE2 refuses a repeat operator
# followed by "+" ("a++", "a{2}+") as "bad repetition operator: ++" / "{2}+".
POSSESSIVE_REFUSAL = re.compile(r"^bad repetition operator: (?:[*+?]|\{\d+(?:,\d*)?\})\+$")
POSSESSIVE_NAME = "a possessive repeat (“*+”, “++”, “?+”, “{n}+”)"
ENGINE_NOTE = ("rules do not support: they run on RE2, a linear-time engine without lookarounds, "
               "backreferences, atomic groups or possessive repeats; rewrite the pattern without it")
# Texts between two looks at the clock while matching under a time budget.
CLOCK_EVERY = 256


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the message goes to the lead, not to stderr
    return options


KEYWORD_GROUP = "keyword"  # a keyword matcher's phrase, without the word boundary around it


def rule_spans(matcher, text: str):
    """(start, end) of each match of a compiled rule in ``text``: for a keyword rule the phrase
    itself, not the boundary characters its pattern consumes (what a highlight should mark)."""
    group = (getattr(matcher, "groupindex", None) or {}).get(KEYWORD_GROUP, 0)
    for match in matcher.finditer(text):
        yield match.span(group)


@functools.lru_cache(maxsize=4096)
def compile_rule(kind: str, pattern: str):
    """A compiled, case-insensitive RE2 matcher for a rule (``.search(text)`` like ``re``);
    ValueError names what is wrong or unsupported. Cached: every leased batch highlights the
    project's rules, and an RE2 matcher (immutable, safe to share between threads) costs
    ~0.1 ms to build."""
    if not pattern or not pattern.strip():
        raise ValueError("the pattern is empty")
    if kind == "keyword":
        # Whole-word match so "card" does not hit "cardigan"; phrases keep their spaces.
        body = re2.escape(pattern.strip())
        return re2.compile(f"(?:^|[^{_WORD}])(?P<{KEYWORD_GROUP}>{body})(?:[^{_WORD}]|$)", _options())
    if kind == "regex":
        # RE2 decides what is valid; the construct names only explain a pattern it refuses, so a
        # valid pattern that merely looks like one ("\p{L}+", "[(?=]") is never refused.
        try:
            return re2.compile(pattern, _options())
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise ValueError(_refusal(pattern, reason)) from exc
    raise ValueError(f"unknown rule kind {kind!r}")


def _refusal(pattern: str, reason: str) -> str:
    """The lead's message for a pattern RE2 refused: the construct RE2 lacks when there is one,
    else RE2's own reason."""
    if POSSESSIVE_REFUSAL.match(reason):
        return f"it uses {POSSESSIVE_NAME}, which {ENGINE_NOTE}"
    for finder, name in UNSUPPORTED:
        if finder.search(pattern):
            return f"it uses {name}, which {ENGINE_NOTE}"
    return f"invalid regular expression: {reason}"


@dataclass
class MatchReport:
    """How far rule matching got: ``partial`` when the time budget ran out first."""

    texts: int = 0
    scanned: int = 0
    partial: bool = False
    seconds: float = 0.0
    budget_s: float | None = None
    stopped_at_rule: str | None = None
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        if not self.partial:
            return ""
        return (f"Rule matching stopped after its time budget of {self.budget_s:g} s: rules were checked "
                f"against {self.scanned:,} of {self.texts:,} texts; the rest count as unmatched.")


def match_rules(rules: Iterable[tuple[str, object]], texts: Sequence[str],
                label_index: dict[str, int], *, budget_s: float | None = None,
                report: MatchReport | None = None) -> dict[int, np.ndarray]:
    """Rows of ``texts`` each label's rules match: label index → sorted unique row numbers.

    ``rules`` are (label name, compiled matcher) pairs; a rule whose label is not in
    ``label_index`` (a label the model does not know yet) is left out. The product's pool and the
    simulation both plan from this, so a rule matches the same rows in both. With ``budget_s``,
    matching stops once that many seconds have passed (all rules together) and ``report`` says
    it was partial.
    """
    report = report if report is not None else MatchReport()
    report.texts, report.budget_s = len(texts), budget_s
    start = time.monotonic()
    deadline = None if budget_s is None else start + float(budget_s)
    matched: dict[int, list[int]] = {}
    wanted = [(label, matcher) for label, matcher in rules if label in label_index]
    scanned_all = len(texts)
    for label, matcher in wanted:
        k = label_index[label]
        rows = []
        for row, text in enumerate(texts):
            if deadline is not None and row % CLOCK_EVERY == 0 and time.monotonic() > deadline:
                report.partial, report.stopped_at_rule = True, label
                scanned_all = min(scanned_all, row)
                break
            if matcher.search(text):
                rows.append(row)
        matched.setdefault(k, []).extend(rows)
        if report.partial:
            break
    report.scanned = scanned_all if wanted else len(texts)
    report.seconds = round(time.monotonic() - start, 4)
    return {k: np.unique(np.asarray(v, dtype=np.int64)) for k, v in matched.items() if v}
