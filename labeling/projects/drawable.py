"""The unanswered items no wave can draw because their duplicate group holds an answered item.

The planner takes one item per duplicate group and nothing from a group that holds an answered
item, a skipped one included (``learner.planning.plan``: a group with an off-limits row is not
eligible). So an unanswered copy of an answered item waits for no wave, though it has no answer:
the overview counts it apart from the pool (``selectors.IN_POOL``), and neither the estimates'
coverage nor the review routing treats it as a pool item.

Its group is read as the planner reads it (``labeling.waves.pool.planner_snapshot`` through
``learner.planning.duplicate_groups``): the near-duplicate group (``dup_group``) where the importer
set one, else the items with the same exact text (``text_hash``) that have no ``dup_group`` either.
A ``dup_group`` is the id of the group's first item, which carries it, so the two kinds of group
never share an id. Each test reads the answered groups once (an uncorrelated subquery the database
hashes), not once per item: the overview counts a 100k-item project with it.
"""
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q

from labeling.annotations.models import Annotation
from labeling.items.models import Item


def answered_group_q(project) -> Q:
    """Items of ``project`` whose duplicate group holds an item with a live answer (a skip
    included), the answered item itself among them, unless pinned for the next wave. Never NULL, so
    that its negation holds too."""
    answers = Annotation.objects.filter(project=project, undone=False)
    groups = answers.filter(item__dup_group__isnull=False).values("item__dup_group")
    texts = answers.filter(item__dup_group__isnull=True).values("item__text_hash")
    # A lead's pin overrides the group: the planner takes pinned items whatever their group holds
    # (waves.pool.pinned_items), so a pinned copy is drawable.
    return (Q(dup_group__isnull=False, dup_group__in=groups) | Q(dup_group__isnull=True, text_hash__in=texts)) & Q(
        pinned_for_next_wave=False)


def in_answered_group(project) -> ExpressionWrapper:
    """``answered_group_q`` as a boolean column to annotate items of ``project`` with."""
    return ExpressionWrapper(answered_group_q(project), output_field=BooleanField())


def copies_of_answered(project, item_ids=None):
    """The items of ``project`` (of ``item_ids`` when given) with no live answer whose duplicate
    group holds an answered item: what waves can never draw, though nobody answered it. Excluded
    items among them too (the callers that leave excluded items out do so on their own)."""
    rows = (Item.objects.filter(answered_group_q(project), project=project)
            .exclude(Exists(Annotation.objects.filter(item=OuterRef("pk"), undone=False))))
    return rows if item_ids is None else rows.filter(pk__in=list(item_ids))


@contextmanager
def counting_without_jit():
    """A transaction whose statements PostgreSQL runs without JIT compilation. A count over every
    item of a project with per-item subqueries has a plan cost far above ``jit_above_cost``, so the
    server compiled it first: about 2 s of a 2.4 s overview count on 20k items, the count itself
    taking a fraction of that. (SQLite has no such setting.)"""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield
