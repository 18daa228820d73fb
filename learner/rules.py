"""Keyword / regex rules that hint at rare labels. Plain Python, no Django.

Rules run on RE2 (``google-re2``), an engine whose matching time grows linearly with the text: a
lead's pattern such as ``(?:[\\w\\s]+)+!`` cannot backtrack for minutes the way Python's ``re``
does. RE2 has no lookarounds, backreferences, atomic groups or possessive repeats; a pattern that
uses one is refused with a message that names the construct. Linear is not cheap, though: counted
repeats such as ``.{0,1000}.{0,1000}.{0,1000}z`` compile to a program of tens of thousands of
instructions that takes most of a second per 20,000-character text, so saving a rule checks its
program size (``compile_rule(..., max_program_size=...)``). Matching over a pool also takes a
time budget (``match_rules(..., budget_s=...)``): past it, matching stops and says so.

Which text a rule matches: a keyword rule matches the text folded as the item search folds it
(learner.text_fold: accents dropped, NFKC, invisible characters removed, ς/ß/ẞ spelled σ/ss/ss), so
"pass\u200bword", "cafe\u0301", "ｒｅｆｕｎｄ" and "STRASSE" are found by the keywords "password",
"café", "refund" and "Straße" as the search finds them; its highlights are mapped back to the raw
characters. It matches as a whole word, its words separated by any white space, except beside a
character of a script written without spaces (learner.text_fold.UNSPACED), where the search, too,
matches a part of the text. A regular expression
matches the raw text as stored: the lead wrote it character by character (a class such as
``[\u200b]`` or ``é`` means what it says), so it is neither folded nor trimmed.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import re2

from .deadline import Deadline
from .text_fold import UNSPACED, FoldedText, fold_with_offsets, search_form

# Python's \w is Unicode-aware, RE2's is ASCII only: whole-word keyword matching spells it out.
# Marks are word characters: in Devanagari, Thai and similar scripts the vowel signs are marks, so
# without them "बंद" (closed) would end a word inside "बंदी" (prisoner).
_WORD = r"\p{L}\p{M}\p{N}_"
# White space between a keyword's words matches any run of white space: the characters Python's
# str.split() splits on (RE2's \s is ASCII only), so "credit card" also finds "credit  card" and
# "credit\ncard" as the search does, and rule_key collapses them alike.
_SPACE = r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+"
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
# The largest RE2 program (``programsize``, instructions) a regex rule may compile to when saved.
# Measured on 20,000-character texts: ordinary patterns are far below (a word 10, a date or an
# e-mail 18-37, an alternation of 50 keywords 530, of 200 keywords 2,041, "refund.{0,200}account"
# 1,817, "\b\p{Lu}\p{Ll}{2,}\b" 869); near the cap the slowest counted repeats take about 20-90 ms a
# text, at 9,000 up to 0.9 s and ".{0,1000}.{0,1000}.{0,1000}z" (27,005) 0.85 s. A Unicode class
# is large in RE2's UTF-8 program and a count copies it: "\p{L}{3,20}" is 23,961 (60 ms a text),
# "\p{L}{3,}" 3,596. The product reads its cap from LONGTAIL_RULE_MAX_PROGRAM_SIZE.
MAX_PROGRAM_SIZE = 5000


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the message goes to the lead, not to stderr
    return options


KEYWORD_GROUP = "keyword"  # a keyword matcher's phrase, without the word boundary around it


class KeywordMatcher:
    """A keyword rule's matcher: the phrase, folded, as a whole word in the folded text.
    ``search(text)`` folds the raw text (``search_folded`` takes it folded already); ``spans``
    gives the matches as raw offsets."""

    def __init__(self, regexp):
        self.regexp = regexp
        self.pattern = regexp.pattern
        self.programsize = regexp.programsize

    def search(self, text: str):
        return self.regexp.search(search_form(text))

    def search_folded(self, folded: str):
        return self.regexp.search(folded)

    def spans(self, text: str):
        """(start, end) of each match in the raw ``text``: the phrase, without the boundary
        characters the pattern consumes, widened to whole folded pieces.

        RE2 has no lookarounds, so the pattern consumes the non-word character after the phrase;
        ``finditer`` would resume past it, and in "GDPR GDPR" the second phrase would lack its
        leading boundary and go unmarked. Each search resumes at the phrase's end instead, so the
        character after one match can be the boundary before the next. RE2's "^" does not match at
        a resumed position, so only that real non-word character can serve as the boundary."""
        folded = _folded(text)
        group = self.regexp.groupindex[KEYWORD_GROUP]
        position = 0
        while position <= len(folded.text):
            match = self.regexp.search(folded.text, position)
            if match is None:
                return
            start, end = match.span(group)
            if end <= start:  # the folded phrase is never empty; guard the loop's progress anyway
                return
            yield folded.raw_span(start, end)
            position = end


@functools.lru_cache(maxsize=2)
def _folded(text: str) -> FoldedText:
    # Highlighting asks once per keyword rule for the same text: fold it once.
    return fold_with_offsets(text)


def rule_spans(matcher, text: str):
    """(start, end) of each match of a compiled rule in ``text`` (raw offsets): for a keyword
    rule the phrase itself, not the boundary characters its pattern consumes (what a highlight
    should mark)."""
    if isinstance(matcher, KeywordMatcher):
        yield from matcher.spans(text)
        return
    for match in matcher.finditer(text):
        yield match.span()


def rule_key(kind: str, pattern: str) -> str:
    """What two rules of one label share when they match alike: a keyword's phrase as matching reads
    it (folded as the text is, its white space runs as one space, and case-insensitive: "Refund" and
    "refund" find the same items); a regex's exact text (its case-insensitivity aside, "\\D" and
    "\\d" differ).

    The fold maps what full case folding expands (ß, ẞ; ligatures and the like through NFKC), so
    str.casefold() on it unites exactly the letters RE2's case-insensitive match does
    (tests/test_round38_unifold_rule_key.py checks every character): "Straße" and
    "STRASSE" are one keyword and find the same items."""
    if kind == "keyword":
        return " ".join(_phrase(pattern).split()).casefold()
    return pattern


def _phrase(pattern: str) -> str:
    """A keyword's phrase as it is matched: folded as the text is, outer spaces trimmed."""
    return search_form(pattern.strip()).strip()


def _keyword_pattern(phrase: str) -> str:
    """The RE2 pattern of a folded keyword phrase: its words in order, any white space between
    them, and a word boundary on each side, except beside a character of a script written
    without spaces (Thai, Han, kana, Hangul with its attached particles...), where the letters
    of the next word follow directly, as the search matches such text as a part of it."""
    body = _SPACE.join(re2.escape(word) for word in phrase.split())
    before = "" if UNSPACED.match(phrase[0]) else f"(?:^|[^{_WORD}])"
    after = "" if UNSPACED.match(phrase[-1]) else f"(?:[^{_WORD}]|$)"
    return f"{before}(?P<{KEYWORD_GROUP}>{body}){after}"


def compile_rule(kind: str, pattern: str, *, max_program_size: int | None = None):
    """A compiled, case-insensitive matcher for a rule (``.search(text)`` like ``re``);
    ValueError names what is wrong or unsupported. With ``max_program_size`` (saving or previewing
    a rule; a stored rule is read without it, so one saved before a check still loads), a regular
    expression whose RE2 program is larger is refused: its matching would be slow; and so is one
    that can match zero characters: it counts as a hit on texts that hold nothing it looks for."""
    matcher = _compile(kind, pattern)
    if max_program_size is not None and kind == "regex" and (empty_in := _empty_match_in(matcher)) is not None:
        raise ValueError(
            f"this regular expression can match zero characters (as it does in {empty_in}), so it "
            "counts as a match on texts that hold nothing it looks for — on every text for a pattern such as "
            "“q*” or “(refund)?”: an optional or “*” part, or an empty alternative (“a|”), lets the whole "
            "pattern match nothing; make at least one character required")
    if max_program_size is not None and kind == "regex" and matcher.programsize > max_program_size:
        raise ValueError(
            f"this regular expression compiles to an RE2 program of {matcher.programsize:,} instructions, "
            f"over the limit of {max_program_size:,} (LONGTAIL_RULE_MAX_PROGRAM_SIZE): counted repeats such as "
            "“.{0,1000}” or “\\p{L}{3,20}” copy their class once per count and make every text it is checked "
            "against slow; use smaller counts, “+” or “*”, or a keyword rule")
    return matcher


# Texts a pattern that can match zero characters matches with an empty span: "" for an optional
# whole pattern or an empty alternative ("q*", "a|", "^$"), the others for zero-width assertions
# that need a neighbour ("\b" next to a word character, "\B" between two, "$" after a line).
EMPTY_MATCH_PROBES = ("", " ", "  ", "a", "aa", "a a", "\n")


def _empty_match_in(regexp) -> str | None:
    """The probe text (written as the lead reads it) in which ``regexp`` matches zero characters,
    or None when it matches no empty span in any of them."""
    for probe in EMPTY_MATCH_PROBES:
        if any(match.end() == match.start() for match in regexp.finditer(probe)):
            return "the empty text" if not probe else "the text “" + repr(probe)[1:-1] + "”"
    return None


@functools.lru_cache(maxsize=4096)
def _compile(kind: str, pattern: str):
    """Cached: every leased batch highlights the project's rules, and an RE2 matcher (immutable,
    safe to share between threads) costs ~0.1 ms to build."""
    if not pattern or not pattern.strip():
        raise ValueError("the pattern is empty")
    if kind == "keyword":
        # Whole-word match so "card" does not hit "cardigan" (see _keyword_pattern). Folded as the
        # text it matches is, so "café" also finds "cafe\u0301" and "pass\u200bword" finds "password".
        phrase = _phrase(pattern)
        if not phrase:
            raise ValueError("the keyword has no visible characters")
        return KeywordMatcher(re2.compile(_keyword_pattern(phrase), _options()))
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
    deadline = Deadline(budget_s)
    matched: dict[int, list[int]] = {}
    wanted = [(label, matcher) for label, matcher in rules if label in label_index]
    scanned_all = len(texts)
    folded: list[str | None] = [None] * len(texts)  # each text folded once, for all keyword rules
    for label, matcher in wanted:
        k = label_index[label]
        rows = []
        keyword = isinstance(matcher, KeywordMatcher)
        for row, text in enumerate(texts):
            if row % CLOCK_EVERY == 0 and deadline.expired():
                report.partial, report.stopped_at_rule = True, label
                scanned_all = min(scanned_all, row)
                break
            if keyword:
                if folded[row] is None:
                    folded[row] = search_form(text)
                hit = matcher.search_folded(folded[row])
            else:
                hit = matcher.search(text)
            if hit:
                rows.append(row)
        matched.setdefault(k, []).extend(rows)
        if report.partial:
            break
    report.scanned = scanned_all if wanted else len(texts)
    report.seconds = round(deadline.elapsed(), 4)
    return {k: np.unique(np.asarray(v, dtype=np.int64)) for k, v in matched.items() if v}
