"""How long an annotator takes per answer: the median gap between consecutive answering events,
for the throughput table (``selectors.annotator_throughput``).

**Which rows are answering events.** Every answer the annotator gave that was not cleared: the
live ones, skips, and the answers a later change replaced (``answer_states.changed``). A changed
answer was a finished answer at its ``created_at``; leaving it out would merge the gaps on either
side of it into one "answer" twice as long, so an annotator who revises her work from the History
list would read as slower than she was, the more so the more she revises. The change itself is an
event too (its new row). A cleared answer (``answer_states.cleared``: a clear or an undo, the item
given back to her) is left out: the item is answered again, and the merged gap is the time the
item took her, the discarded attempt included.

Gaps over ``THROUGHPUT_MAX_GAP`` are breaks, not time on an item. On PostgreSQL the medians are
worked out in the database (``median_answer_gaps_sql``); elsewhere from the times
(``median_answer_gaps_python``); both give the same numbers to the last bit."""
from collections import defaultdict
from datetime import timedelta
from statistics import median

from django.db import connection

from labeling.projects.models import Project

from . import answer_states
from .models import Annotation

# Gaps between two answers longer than this are breaks, not time spent on an item.
THROUGHPUT_MAX_GAP = timedelta(minutes=10)


def median_answer_gaps_python(project: Project) -> dict[int, float]:
    """annotator id → median seconds between consecutive answering events (see the module), for
    annotators with at least one gap up to ``THROUGHPUT_MAX_GAP``. Reads every event's time: the
    path for SQLite."""
    times: dict[int, list] = defaultdict(list)
    for annotator_id, created_at in (
        Annotation.objects.filter(project=project, origin=Annotation.ANNOTATOR, annotator__isnull=False)
        .exclude(answer_states.cleared())
        .order_by("created_at")
        .values_list("annotator_id", "created_at")
    ):
        times[annotator_id].append(created_at)
    out = {}
    for annotator_id, stamps in times.items():
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False) if b - a <= THROUGHPUT_MAX_GAP]
        if gaps:
            out[annotator_id] = median(gaps)
    return out


# Each annotator's gaps (lag() over their events in time order) and the two middle ones: the lower
# middle is percentile_disc(0.5) ascending, the upper one percentile_disc(0.5) descending (the same
# value when the count is odd). Their mean is then taken in Python as statistics.median takes it:
# percentile_cont would interpolate in the database's arithmetic (intervals rounded to the
# microsecond), which can land on the other side of a tenth of a second when rounded.
# The events are ``answer_states``' rows that are not cleared: not undone, or undone and named by a
# newer row's supersedes (unique, so the EXISTS is one index lookup).
MEDIAN_GAPS_SQL = """
SELECT annotator_id,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap <= %s),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY gap DESC) FILTER (WHERE gap <= %s)
FROM (SELECT answer.annotator_id,
             answer.created_at - lag(answer.created_at)
                 OVER (PARTITION BY answer.annotator_id ORDER BY answer.created_at) AS gap
      FROM {table} AS answer
      WHERE answer.project_id = %s AND answer.origin = %s AND answer.annotator_id IS NOT NULL
        AND (NOT answer.undone OR EXISTS (SELECT 1 FROM {table} AS newer WHERE newer.supersedes_id = answer.id))
     ) AS answer_gaps
GROUP BY annotator_id
"""


def median_answer_gaps_sql(project: Project) -> dict[int, float]:
    """``median_answer_gaps_python`` computed in PostgreSQL: one row per annotator comes back instead of
    every event's time."""
    sql = MEDIAN_GAPS_SQL.format(table=connection.ops.quote_name(Annotation._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [THROUGHPUT_MAX_GAP, THROUGHPUT_MAX_GAP, project.pk, Annotation.ANNOTATOR])
        rows = cursor.fetchall()
    return {annotator_id: (lower.total_seconds() + upper.total_seconds()) / 2
            for annotator_id, lower, upper in rows if lower is not None}
