"""How a browser list query runs on PostgreSQL: plans that do not depend on statistics.

A page of the browser is "the newest 50 items that pass every filter". Two plans are cheap
whatever the data, and the planner's own choice is not among them when statistics are missing
(autovacuum may be off after a bulk import; the planner then guesses row counts, and its
guesses made pages on 1M items take seconds):

1. **Narrow first.** A filter that matches few items (a rare word, one wave, an annotator's
   answers, a small source, open review tasks, a predicted label at high confidence) is asked
   for its item ids through its own index, at most ``NARROW_CAP`` of them; the lists that came
   back complete are intersected, and the page query checks every filter on those ids only.
2. **Walk in order.** When every filter is broad, the page walks the project's items newest
   first through the (project, id) index, checks the filters row by row and stops after its
   rows: broad filters mean the rows come quickly. (The one slow case: filters each broad but
   together matching less than a page; the walk then reads every item of the project.)

Each statement runs with its plan pinned by ``SET LOCAL`` (inside the request's transaction):
index scans and nested loops only, no JIT (compiling costs more than these short queries run), bitmap scans
only for the text probes (GIN indexes, words or trigrams, are read through bitmaps). Every filter is still applied by
the page query, so an id list only narrows where the query looks, never what it answers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.contrib.postgres.search import SearchQuery
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL

from labeling.annotations.disagreement import dispute_candidates
from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.decoding import request_emitting_columns
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.waves.models import Wave, WaveItem

from . import browse
from .models import Item

# Most ids a filter may hand over to narrow a query; a filter matching more is broad (the walk
# then finds rows quickly); the page query checks each candidate with index lookups.
NARROW_CAP = 20_000
# Once the intersection is this small, further probes cost more than they save.
SMALL_ENOUGH = 200

# Longest a browser statement may run: the one slow case (filters each broad, together matching
# less than a page) must not hold a web worker until gunicorn's timeout.
STATEMENT_TIMEOUT_MS = 10_000
# Settings of every browser statement (index scans and nested loops: costs bounded by rows read).
PINNED = {
    "enable_seqscan": "off", "enable_bitmapscan": "off", "enable_hashjoin": "off",
    "enable_mergejoin": "off", "jit": "off", "max_parallel_workers_per_gather": "0",
    "statement_timeout": str(STATEMENT_TIMEOUT_MS),
}
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by statement_timeout
# The text probes read a GIN index (words or trigrams), which only bitmap scans can.
TEXT_PROBE = {"enable_bitmapscan": "on", "enable_indexscan": "off"}
# A walk must not sort: it follows the index order and stops after its rows.
WALK = {"enable_sort": "off"}
TOUCHED = {*PINNED, *TEXT_PROBE, *WALK}


class SearchTooSlow(Exception):
    """A browser statement ran past STATEMENT_TIMEOUT_MS (the request answers 503 with why)."""

    message = (f"This search ran longer than {STATEMENT_TIMEOUT_MS // 1000} s and was stopped: its filters each "
               "match many items but together very few. Add a filter (a wave, a source, a label) or a rarer word.")


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def set_local(settings: dict[str, str]) -> None:
    """Planner settings for the rest of the current transaction (PostgreSQL only)."""
    if not is_postgresql() or not settings:
        return
    calls = ", ".join(["set_config(%s, %s, true)"] * len(settings))
    with connection.cursor() as cursor:  # one round trip for all of them
        cursor.execute(f"SELECT {calls}", [part for item in settings.items() for part in item])


@contextmanager
def pinned_plans():
    """The transaction a browser request runs its reads in, with PINNED set. Inside a caller's
    transaction (a savepoint) the settings would outlive the block, so they are put back."""
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            saved = _current_settings() if nested else {}
            set_local(PINNED)
            yield
            set_local(saved)  # on an error the savepoint's rollback restores them
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) == QUERY_CANCELED:
            raise SearchTooSlow(SearchTooSlow.message) from exc
        raise


def _current_settings() -> dict[str, str]:
    if not is_postgresql():
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [sorted(TOUCHED)])
        return dict(cursor.fetchall())


def _ids(queryset: QuerySet, column: str, settings: dict[str, str] | None = None) -> set[int] | None:
    """The ids the query yields, or None when there are more than NARROW_CAP (broad)."""
    set_local(settings or {})
    ids = list(queryset.order_by().values_list(column, flat=True)[: NARROW_CAP + 1])
    set_local({k: PINNED.get(k, "on") for k in (settings or {})})
    return None if len(ids) > NARROW_CAP else set(ids)


PREDICTION_FILTERS = ("predicted", "min_confidence", "max_confidence")
NOTHING = None  # score_conditions: no score can match (no active model, or a label it does not know)


def score_conditions(data: dict, version: ModelVersion | None) -> dict | None:
    """The ItemScore conditions of the browser's prediction filters (predicted label, confidence
    range) on the active version, or NOTHING when no score can match. Only for data that sets
    at least one of PREDICTION_FILTERS."""
    if version is None:
        return NOTHING
    where = {"model_version": version}
    label, low, high = (data.get(name) for name in PREDICTION_FILTERS)
    if label is not None:
        # by identity, of what the model emits: a superset (fallbacks either way) that the index
        # serves; the filter set narrows it with decoding.rows_emitting
        own, children = request_emitting_columns(version, label.pk)
        if own is None and not children:
            return NOTHING  # the active model never emits this label (e.g. newer than the model)
        where["top_label__in"] = sorted({*children, *([own] if own is not None else [])})
    if low is not None:
        where["top_prob__gte"] = float(low)
    if high is not None:
        where["top_prob__lte"] = float(high)
    return where


def probes(project, data: dict, version) -> Iterator[tuple[str, Callable[[], set[int] | None]]]:
    """(kind, probe) per filter that has an index of its own, most selective kinds first."""
    wave, strategy = data.get("wave"), data.get("strategy")
    if wave is not None or strategy:
        where = {"wave__project": project}
        if wave is not None:
            where["wave__number"] = int(wave)
        if strategy:
            where["strategy"] = strategy
        yield "index", lambda: _ids(WaveItem.objects.filter(**where), "item_id")
    if data.get("dup_group") is not None:
        yield "index", lambda: _ids(Item.objects.filter(project=project, dup_group=int(data["dup_group"])), "id")
    annotator, answer_label = data.get("annotator"), data.get("answer_label")
    if annotator is not None or answer_label is not None:
        where = {"project": project, "undone": False}
        if annotator is not None:
            where["annotator"] = annotator
        if answer_label is not None:
            where.update(label=answer_label, skipped=False)
        yield "index", lambda: _ids(Annotation.objects.filter(**where), "item_id")
    if data.get("label") is not None:
        yield "index", lambda: _ids(Annotation.objects.filter(label=data["label"], undone=False, skipped=False), "item_id")
    state = data.get("state")
    if state == browse.DISPUTED:
        # Disputed is read from the answers (a dismissed disagreement stays disputed): its
        # candidates are the items with a disagreement task, open or closed.
        yield "index", lambda: _ids(dispute_candidates(project), "item_id")
    elif state == browse.IN_REVIEW:
        yield "index", lambda: _ids(ReviewTask.objects.filter(project=project, resolved_at__isnull=True), "item_id")
    elif state == browse.SKIPPED:
        yield "index", lambda: _ids(Annotation.objects.filter(project=project, undone=False, skipped=True), "item_id")
    elif state == browse.IN_WAVE:
        yield "index", lambda: _ids(WaveItem.objects.filter(wave__project=project, wave__state__in=[Wave.PLANNED, Wave.OPEN]),
                           "item_id")
    elif state == browse.LABELED:
        yield "index", lambda: _ids(Annotation.objects.filter(project=project, undone=False, skipped=False,
                                                     label__isnull=False), "item_id")
    if data.get("q"):
        yield "text", None  # candidate_ids asks the search itself (narrow_by_text): it may change its mode
    if any(data.get(name) is not None for name in PREDICTION_FILTERS):
        prediction = score_conditions(data, version)
        if prediction is not NOTHING:  # else the filter set itself answers nothing
            yield "index", lambda: _ids(ItemScore.objects.filter(**prediction), "item_id")
    if data.get("source") is not None:
        yield "index", lambda: _ids(Item.objects.filter(project=project, source=data["source"]), "id")


def candidate_ids(project, data: dict, version, search: browse.TextSearch | None = None) -> set[int] | None:
    """Ids every match is among (the intersection of the narrow filters' lists), or None when
    every filter is broad (PostgreSQL only; elsewhere None)."""
    return _candidates(project, data, version, search or browse.TextSearch.of(data.get("q")))[0]


def _candidates(project, data: dict, version, search) -> tuple[set[int] | None, browse.TextSearch | None]:
    """(candidate ids or None, the search as it is to be applied)."""
    if not is_postgresql():
        return None, search
    among: set[int] | None = None
    asked = False
    for kind, probe in probes(project, data, version):
        if kind == "text":
            among, search = narrow_by_text(project, search, among)
            asked = True
        else:
            ids = probe()
            if ids is None:
                continue
            among = ids if among is None else among & ids
        if among is not None and len(among) <= SMALL_ENOUGH:
            break
    if not asked:
        among, search = narrow_by_text(project, search, among)
    return among, search


def narrow_by_text(project, search: browse.TextSearch | None, among: set[int] | None):
    """(candidate ids, the search to apply). When the words match nothing, the words no item of the
    project has (a part of a word, a word written into a longer run) are searched as substrings
    instead, and so are the phrases holding them; the other words, phrases and -words keep their
    meaning, so a phrase or a set of words that exist but never together still matches nothing.
    The word index answers that question at once, or the candidates of the other filters do, most cheaply."""
    if search is None or among == set():
        return among, search  # nothing to search, or the other filters already match nothing
    if not search.substring:
        if not search.indexable:
            return among, search  # only -excluded words: nothing to look up
        # Reading a common word's GIN list costs up to ~40 ms; checking it on the candidates ~1 µs each.
        if among is not None and search.apply(among_ids(Item.objects.all(), among)).exists():
            return among, search
        ids = _ids(search.apply(project_rows(project)), "id", TEXT_PROBE)
        if ids is None:
            return among, search  # a common word
        if ids:
            return (ids if among is None else among & ids), search
        loose = unknown_words(project, search)
        if not loose:
            return set(), search  # every word is one of the project's, never as asked: nothing matches
        search = search.loosen(loose)
    if among is not None or not search.indexable:
        return among, search  # checked on the candidates, or row by row on the walk
    return _ids(search.apply(project_rows(project)), "id", TEXT_PROBE), search


def unknown_words(project, search: browse.TextSearch) -> set[str]:
    """The search's words (of its phrases and -words too) that no item of the project has as a word.
    A stop word ("the") is in no document, and the word query ignores it: it counts as known, unless
    the query has no other word (then the word query cannot answer, and every word is a substring)."""
    words = sorted({word for term in search.terms() for word in term.words.lower().split()})
    with connection.cursor() as cursor:
        cursor.execute("SELECT w, numnode(plainto_tsquery(%s::regconfig, w)) > 0 FROM unnest(%s::text[]) AS w",
                       [browse.SEARCH_CONFIG, words])
        lexical = [word for word, has_lexeme in cursor.fetchall() if has_lexeme]
    if not lexical:
        return set(words)
    set_local(TEXT_PROBE)
    rows = project_rows(project).alias(document=browse.search_document())
    unknown = {word for word in lexical if not rows.filter(
        document=SearchQuery(word, config=browse.SEARCH_CONFIG, search_type="plain")).exists()}
    set_local({k: PINNED.get(k, "on") for k in TEXT_PROBE})
    return unknown


def project_rows(project) -> QuerySet[Item]:
    # The project is checked on the rows, not through its index: AND-ing a bitmap of all the
    # project's items (1M) onto the word's cost ~20 ms for nothing.
    return Item.objects.alias(owner=F("project_id") + 0).filter(owner=project.id)


def narrow(queryset: QuerySet[Item], project, data: dict, version) -> QuerySet[Item]:
    """The filtered and searched queryset, narrowed to candidate ids where a filter is narrow;
    sets the page query's plan settings (walk or not) for the rest of the transaction."""
    search = browse.TextSearch.of(data.get("q"))
    if not is_postgresql() or project is None:
        return browse.search(queryset, search)
    among, search = _candidates(project, data, version, search)
    queryset = browse.search(queryset, search)
    if among is None:
        set_local(WALK)
        return queryset
    set_local({"enable_sort": "on"})
    return among_ids(queryset, among)


def among_ids(queryset: QuerySet[Item], among: set[int]) -> QuerySet[Item]:
    # One array parameter, not thousands of IN placeholders (parsed once, planned as = ANY).
    return queryset.filter(RawSQL(f'"{Item._meta.db_table}"."id" = ANY(%s)', [sorted(among)],
                                  output_field=BooleanField()))


def page_read() -> None:
    """After the page query: the per-row extras of the page may sort again."""
    set_local({"enable_sort": "on"})
