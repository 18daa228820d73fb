"""Reads behind the item browser (page and API): the project's items as a queryset the filter set
narrows, the SQL expressions for an item's resolved label and state, and the per-row extras of
one page of results.

Everything here is a queryset or runs on one page of rows (a few dozen ids), so a list request
costs the same on 1,000 items as on 1,000,000 (bench/browse_bench.py measures it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import BigIntegerField, Case, Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.expressions import RawSQL
from django.db.models.fields import BooleanField
from django.db.models.lookups import IsNull

from labeling.annotations.disagreement import disputed
from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import Shown, shown_predictions
from labeling.projects.models import Label, Project
from labeling.waves.models import Wave, WaveItem
from learner.text_fold import UNSPACED, search_form

from .models import Item

# Text-search configuration of the search document column (PostgreSQL only, see
# labeling/items/migrations/0003_item_browse.py and 0007); the query must parse with the same one.
SEARCH_CONFIG = "english"
SEARCH_COLUMN = "search_document"
# The item's folded text, lower-cased (PostgreSQL only; items migrations 0007_item_search_text and
# 0011_item_search_case_fold; trigram-indexed where pg_trgm is installed): substring searches read it.
SUBSTRING_COLUMN = "search_text"

# Both search columns hold the text folded so that what looks alike matches: accents dropped
# (NFKD, then the combining diacritics U+0300-U+036F removed, so "Cafe\u0301", "Café" and "cafe"
# agree), NFKC, and Unicode's default-ignorable characters (zero-width spaces and joiners, bidi
# controls, soft hyphens, variation selectors...: labeling.items.invisible.INVISIBLE) removed, so
# "pass\u200bword" is "password", and ς, ß and ẞ spelled σ, ss and ss (the case folding lower() lacks,
# so "ΚΟΣΜΟΣ" finds "κόσμος" and "STRASSE" finds "Straße"). The migrations (items 0007, 0011) spell
# the same rules in SQL; a query is folded here the same way (learner.text_fold.search_form, the fold
# keyword rules match, too).
# Scripts written without spaces between words (learner.text_fold.UNSPACED, which keyword rules
# read too): the word index holds a whole run as one word, so a query in one of them is matched as a
# substring.
# pg_trgm finds a LIKE pattern through its index only with a run of three word characters.
_TRIGRAM = re.compile(r"\w{3}")

UNLABELED = "unlabeled"
IN_WAVE = "in_wave"
LABELED = "labeled"
SKIPPED = "skipped"
DISPUTED = "disputed"
IN_REVIEW = "in_review"
STATES = [(UNLABELED, "unlabeled"), (IN_WAVE, "in a wave"), (LABELED, "labeled"), (SKIPPED, "skipped"),
          (DISPUTED, "disputed"), (IN_REVIEW, "in review")]
# What each state means (the filter's help text and the item page's tooltip). They overlap: a
# disputed item is also labeled (and in review until a lead dismisses it); rows show the most telling one.
STATE_MEANINGS = {
    UNLABELED: "no live answer and not in a planned or open wave",
    IN_WAVE: "in a planned or open wave, not answered yet",
    LABELED: "at least one live answer with a label",
    SKIPPED: "live skips only, no label",
    DISPUTED: "annotators' latest answers differ and no lead has adjudicated (a dismissed disagreement stays disputed)",
    IN_REVIEW: "any open review task",
}

# Sort keys of the browser → the ordering the cursor pagination walks (the cursor holds the whole tuple;
# its last field must be unique: id).
SORTS = {
    "newest": ("-id",),
    "oldest": ("id",),
    "confidence_desc": ("-confidence", "-id"),
    "confidence_asc": ("confidence", "id"),
}
SORT_CHOICES = [
    ("newest", "newest first"),
    ("oldest", "oldest first"),
    ("confidence_desc", "most confident first"),
    ("confidence_asc", "least confident first"),
]


def pool(project: Project) -> QuerySet[Item]:
    """Every item of the project, unordered (the paginator orders)."""
    return Item.objects.filter(project=project).select_related("source")


def active_version(project: Project) -> ModelVersion | None:
    """The project's active model version, read once per Project instance (one request)."""
    if not hasattr(project, "_browse_active_version"):
        project._browse_active_version = (
            ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).defer("artifact").first()
        )
    return project._browse_active_version


# --- answers and states as SQL --------------------------------------------------------------------
def live_answers(**where) -> QuerySet[Annotation]:
    """Answers of OuterRef('pk') that are not undone."""
    return Annotation.objects.filter(item=OuterRef("pk"), undone=False, **where)


def usable_answers(**where) -> QuerySet[Annotation]:
    """Answers that count as labels: not undone, not skipped, with a label."""
    return live_answers(skipped=False, label__isnull=False, **where)


# The same ranking without ORDER BY (PostgreSQL): the largest (newest adjudication, answers,
# newest answer, last id, label) array wins. A sort inside the per-row subquery would keep the
# browser's pinned "walk in order, never sort" plan (labeling/items/narrowing.py) from being chosen.
_RESOLVED_SQL = f"""(SELECT (max(ARRAY[COALESCE(g.adjudicated, -1), g.answers, g.last, g.last_id, g.label_id]))[5]
  FROM (SELECT a.label_id,
               max(CASE WHEN a.origin = '{Annotation.ADJUDICATION}'
                        THEN (extract(epoch FROM a.created_at) * 1000000)::bigint END) AS adjudicated,
               count(*) AS answers,
               (extract(epoch FROM max(a.created_at)) * 1000000)::bigint AS last,
               max(a.id) AS last_id
          FROM {Annotation._meta.db_table} a
         WHERE a.item_id = "{Item._meta.db_table}"."id" AND NOT a.undone AND NOT a.skipped
           AND a.label_id IS NOT NULL
         GROUP BY a.label_id) g)"""


def resolved_label_subquery() -> Subquery | RawSQL:
    """The item's resolved label id, in SQL: the same rule as labeling.annotations.selectors.resolve_item_labels
    (the newest adjudication wins; otherwise the majority label; ties go to the label answered
    most recently). tests/test_browse_api.py checks both agree on a mixed set of items. Only
    for querysets of Item that join items_item once (the SQL names it)."""
    if connection.vendor == "postgresql":
        return RawSQL(_RESOLVED_SQL, [], output_field=BigIntegerField())
    ranked = (
        usable_answers().order_by().values("label_id")
        .annotate(
            adjudicated=Max(Case(When(origin=Annotation.ADJUDICATION, then="created_at"))),
            answers=Count("id"), last=Max("created_at"), last_id=Max("id"),
        )
        .order_by(F("adjudicated").desc(nulls_last=True), "-answers", "-last", "-last_id")
        .values("label_id")
    )
    return Subquery(ranked[:1])


def unfinished_picks(**where) -> QuerySet[WaveItem]:
    return WaveItem.objects.filter(item=OuterRef("pk"), wave__state__in=[Wave.PLANNED, Wave.OPEN], **where)


def open_reviews(**where) -> QuerySet[ReviewTask]:
    return ReviewTask.objects.filter(item=OuterRef("pk"), resolved_at__isnull=True, **where)


def in_unfinished_wave(**where) -> Exists:
    return Exists(unfinished_picks(**where))


def open_review(**where) -> Exists:
    return Exists(open_reviews(**where))


def has(related: QuerySet) -> Q:
    """Items for which the correlated query finds a row, checked row by row. Written as a scalar
    subquery because PostgreSQL never turns one into a join, while it may turn EXISTS into one
    and, with missing statistics, drive the page from the other table (all of a label's scores
    read for a page of a few items); see labeling/items/narrowing.py."""
    return Q(IsNull(Subquery(related.order_by().values("pk")[:1]), False))


def lacks(related: QuerySet) -> Q:
    """Items for which the correlated query finds nothing (row by row, as in has())."""
    return Q(IsNull(Subquery(related.order_by().values("pk")[:1]), True))


def state_q(state: str) -> Q:
    """The condition behind one value of the browser's state filter (see STATES)."""
    if state == UNLABELED:
        return lacks(live_answers()) & lacks(unfinished_picks())
    if state == IN_WAVE:
        return has(unfinished_picks()) & lacks(live_answers())
    if state == LABELED:
        return has(usable_answers())
    if state == SKIPPED:
        return has(live_answers(skipped=True)) & lacks(usable_answers())
    if state == DISPUTED:
        # From the answers, as the export and the estimates read it (disagreement.disputed_sql):
        # a dismissed disagreement task is closed, yet nobody decided the item.
        return Q(disputed())
    if state == IN_REVIEW:
        return has(open_reviews())
    raise ValueError(f"unknown state {state!r}")


# One term of the search box, in websearch syntax: -"a phrase" / "a phrase" (an unclosed quote runs
# to the end), or -word / word.
_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Term:
    words: str  # a word, or a phrase's words joined by single spaces
    negated: bool
    phrase: bool

    def websearch(self) -> str:
        return ("-" if self.negated else "") + (f'"{self.words}"' if self.phrase else self.words)


def parse_terms(text: str) -> list[Term]:
    """The terms of the search box's text; "or" is skipped (the substring readings AND every term)."""
    terms = []
    for match in _TERM.finditer(text):
        negated, quoted, word = match.groups()
        if word is not None:
            negated, words = word.startswith("-"), word.lstrip("-").strip('"')
        else:
            words = " ".join(quoted.split())
        if words and words.lower() != "or":
            terms.append(Term(words, bool(negated), " " in words))
    return terms


@dataclass(frozen=True)
class TextSearch:
    """What the search box asked for, folded. Words (PostgreSQL: stemmed, through the GIN index,
    web-search syntax) unless ``substring`` (scripts without spaces): then each term is a substring
    of the folded text, a phrase as one ("card stolen" in that order), and -terms must not appear.
    ``loose``: words no item of the project has as a word (labeling/items/narrowing.py finds them);
    the terms holding one are read as substrings, the others stay words."""

    text: str
    substring: bool
    typed: str = ""  # as typed: the fallback without an index matches it too (contains_search)
    loose: frozenset[str] = frozenset()

    @classmethod
    def of(cls, raw: str | None) -> TextSearch | None:
        text = search_form(raw or "").strip()
        return cls(text, bool(UNSPACED.search(text)), (raw or "").strip()) if text else None

    def loosen(self, words) -> TextSearch:
        return TextSearch(self.text, self.substring, self.typed, frozenset(words))

    def terms(self) -> list[Term]:
        return parse_terms(self.text)

    def as_text(self, term: Term) -> bool:
        """Whether the term is looked for as a substring (else through the word index)."""
        return self.substring or not self.loose.isdisjoint(term.words.lower().split())

    @property
    def indexable(self) -> bool:
        """Whether an index can find the matches: GIN needs a word the match must contain, the
        trigram index a wanted substring with three word characters in a row."""
        return any(not term.negated and (not self.as_text(term) or _TRIGRAM.search(term.words))
                   for term in self.terms())

    def apply(self, queryset: QuerySet[Item]) -> QuerySet[Item]:
        if connection.vendor != "postgresql":
            return contains_search(queryset, self.typed or self.text)
        if not self.substring and not self.loose:
            query = SearchQuery(self.text, config=SEARCH_CONFIG, search_type="websearch")
            return queryset.alias(document=search_document()).filter(document=query)
        terms = self.terms()
        words = " ".join(term.websearch() for term in terms if not self.as_text(term))
        if words:
            query = SearchQuery(words, config=SEARCH_CONFIG, search_type="websearch")
            queryset = queryset.alias(document=search_document()).filter(document=query)
        texts = [term for term in terms if self.as_text(term)]
        if not texts:
            return queryset
        column = f'"{Item._meta.db_table}"."{SUBSTRING_COLUMN}"'
        # lower() in SQL for the pattern too: the column was lower-cased by the same function.
        sql = " AND ".join(f"{column} {'NOT ' if term.negated else ''}LIKE lower(%s)" for term in texts)
        patterns = [f"%{connection.ops.prep_for_like_query(term.words)}%" for term in texts]
        return queryset.filter(RawSQL(sql, patterns, output_field=BooleanField()))


def search(queryset: QuerySet[Item], text: str | TextSearch | None) -> QuerySet[Item]:
    """The items the search box's text matches (see TextSearch); everything when it is empty."""
    search_ = text if isinstance(text, TextSearch) or text is None else TextSearch.of(text)
    return queryset if search_ is None else search_.apply(queryset)


def contains_search(queryset: QuerySet[Item], text: str) -> QuerySet[Item]:
    """The fallback where there is no full-text index: each term (a word, "a phrase" as one run)
    must appear (any case), as typed or as the search folds it, and each -term must not (the stored
    text is not folded here: "Hauptstraße" typed as stored is found, and so is "hauptstrasse" where
    the text has it so)."""
    for term in parse_terms(text):
        match = Q()
        for form in {term.words, " ".join(search_form(term.words).split())} - {""}:
            match |= Q(text__icontains=form)
        queryset = queryset.exclude(match) if term.negated else queryset.filter(match)
    return queryset


def search_document() -> RawSQL:
    """The item's stored search document (a generated tsvector column the Item model does not
    declare, because SQLite cannot have it)."""
    return RawSQL(f'"{Item._meta.db_table}"."{SEARCH_COLUMN}"', [], output_field=SearchVectorField())


def with_confidence(queryset: QuerySet[Item], version: ModelVersion | None) -> QuerySet[Item]:
    """Scored items only, with ``confidence`` (the active model's calibrated top probability) to
    sort on. A join, not a per-row subquery: the (model_version, top_prob) index then serves
    the order."""
    confidence = F("scores__top_prob")
    if version is None:
        # Nothing is scored without an active model: an empty page, and no query. It still needs
        # ``confidence``, which the paginator orders these sorts by whatever the queryset holds.
        return queryset.none().annotate(confidence=confidence)
    return queryset.filter(scores__model_version=version).annotate(confidence=confidence)


def capped_count(queryset: QuerySet[Item], cap: int) -> tuple[int, bool]:
    """(count, capped): counts at most ``cap`` rows, so a broad filter on 1M items stays cheap."""
    n = queryset.order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n > cap


# --- one page of rows ----------------------------------------------------------------------------
@dataclass
class Row:
    item: Item
    state: str
    resolved_label: str | None
    predicted_label: str | None
    confidence: float | None  # the stored top probability, which the confidence filters and sorts read
    answers: int
    waves: list[int]
    fallback: bool = False  # the model falls back to the coarse predicted_label
    fallback_from: str | None = None  # then its fine candidate's name now (None: deleted since the version trained)

    @property
    def state_label(self) -> str:
        return self.state.replace("_", " ")


def row_states(project: Project, item_ids: list[int], version: ModelVersion | None = None) -> dict[int, dict]:
    """item id → {state flags, resolved label id and name, live answers, the version's top label
    index and probability} for a page of ids, in one query."""
    extras = {}
    if version is not None:
        score = ItemScore.objects.filter(model_version=version, item_id=OuterRef("pk"))
        extras = {name: Subquery(score.values(name)[:1]) for name in ("top_label", "top_prob", "fallback")}
    rows = (
        Item.objects.filter(project=project, id__in=item_ids)
        .annotate(resolved=resolved_label_subquery())
        .annotate(
            resolved_name=Subquery(Label.objects.filter(id=OuterRef("resolved")).values("name")[:1]),
            answers=Subquery(live_answers().order_by().values("item").annotate(n=Count("id")).values("n")[:1]),
            has_usable=Exists(usable_answers()), has_live=Exists(live_answers()),
            has_skip=Exists(live_answers(skipped=True)), in_wave=in_unfinished_wave(),
            disputed=disputed(), reviewed=open_review(), **extras,
        )
        .values("id", "resolved", "resolved_name", "answers", "has_usable", "has_live", "has_skip", "in_wave",
                "disputed", "reviewed", *extras)
    )
    return {row.pop("id"): row for row in rows}


def primary_state(flags: dict) -> str:
    """One state to show per row; the filter's states overlap (a disputed item is also labeled,
    and in review until a lead dismisses it), the most telling one is shown."""
    if flags["disputed"]:
        return DISPUTED
    if flags["reviewed"]:
        return IN_REVIEW
    if flags["has_usable"]:
        return LABELED
    if flags["has_skip"]:
        return SKIPPED
    if flags["in_wave"]:
        return IN_WAVE
    return UNLABELED


def decorate(project: Project, items: list[Item], version: ModelVersion | None = None) -> list[Row]:
    """The browser's columns for one page of items, in two queries (more on a page with fallbacks)."""
    ids = [item.id for item in items]
    flags = row_states(project, ids, version)
    shown = shown_predictions(version, {i: (f["top_label"], f.get("fallback"))
                                        for i, f in flags.items() if f.get("top_label") is not None})
    waves: dict[int, list[int]] = {}
    for item_id, number in (
        WaveItem.objects.filter(item_id__in=ids).order_by("wave__number").values_list("item_id", "wave__number")
    ):
        waves.setdefault(item_id, []).append(number)
    rows = []
    for item in items:
        f = flags.get(item.id) or {}
        p = shown.get(item.id) or Shown(None)
        rows.append(Row(
            item=item, state=primary_state(f) if f else UNLABELED, resolved_label=f.get("resolved_name"),
            predicted_label=p.label, confidence=f.get("top_prob"), answers=f.get("answers") or 0,
            waves=waves.get(item.id, []), fallback=p.fallback, fallback_from=p.candidate,
        ))
    return rows
