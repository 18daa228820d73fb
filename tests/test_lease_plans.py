"""The lease's queries walk their partial indexes whatever PostgreSQL's statistics say: with
statistics taken when the tables were small (stale, as with autovacuum off or late) and after a
fresh ANALYZE. A wave mostly answered is the case that hurts a plan that counts or sorts every
pick: the free slots are at its end."""
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling.annotations.leasing import candidate_query, lease_batch, pin_plans, stale_lease_query
from labeling.annotations.models import Assignment
from labeling.items.models import Item
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db


# Every table the lease's queries read: statistics left by earlier tests on any of them (the
# label and source tables joined for the payload, say) would make "stale" mean something else.
TABLES = ("waves_waveitem", "waves_wave", "annotations_assignment", "annotations_annotation", "items_item",
          "projects_label", "projects_source", "projects_project", "projects_membership", "auth_user")


def analyze():
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")


def grow(project, wave, users, n=4000, answered=3600):
    """n more picks in the wave, the first ``answered`` of them answered by someone."""
    source = project.sources.first()
    texts = [f"bulk item {wave.number} {i} " + "x" * (i % 7) for i in range(n)]
    Item.objects.bulk_create([Item(project=project, source=source, text=f"{t} {k}", text_hash=text_hash(f"{t} {k}"))
                              for k, t in enumerate(texts)], batch_size=2000)
    items = list(Item.objects.filter(project=project, text__startswith=f"bulk item {wave.number} ").order_by("id"))
    picks = WaveItem.objects.bulk_create([
        WaveItem(wave=wave, item=item, strategy="random", batch_number=100 + i // 10, position=i % 10,
                 slots_taken=1 if i < answered else 0, slots_done=1 if i < answered else 0)
        for i, item in enumerate(items)], batch_size=2000)
    now = timezone.now()
    Assignment.objects.bulk_create([
        Assignment(wave_item=pick, annotator=users[i % len(users)], state=Assignment.DONE, expires_at=now)
        for i, pick in enumerate(picks[:answered])], batch_size=2000)


def test_lease_queries_use_their_indexes_with_stale_and_fresh_statistics(postgres_only, project_factory, make_user):
    project = project_factory("plans")
    users = [add_member(make_user, project, f"ann{i}") for i in range(5)]
    wave, _ = make_open_wave(project, 10, batch_size=10)
    lease_batch(project, users[0], size=3)
    analyze()  # statistics of a small project
    grow(project, wave, users)
    Assignment.objects.filter(annotator=users[0]).update(expires_at=timezone.now() - timedelta(seconds=5))

    for statistics in ("stale", "fresh"):
        if statistics == "fresh":
            analyze()
        with transaction.atomic():  # as the lease runs them: in its transaction, plans pinned
            pin_plans()
            candidates = candidate_query(wave.pk, users[1], [], 10).explain()
            stale = stale_lease_query(None, timezone.now()).explain()
        assert "Index Scan using waveitem_free_slots" in candidates, (statistics, candidates)
        assert "Sort" not in candidates, (statistics, candidates)  # walked in lease order, never sorted
        # Only leases still "leased" and past their time are read, by index; no table is scanned.
        assert "Index Cond: (((state)::text = 'leased'::text) AND (expires_at <=" in stale, (statistics, stale)
        for table in ("waves_waveitem", "annotations_assignment"):  # the tables that grow with every answer
            assert f"Seq Scan on {table}" not in stale + candidates, (statistics, stale, candidates)

    # And the lease itself finds the free slots at the end of the wave, and the stale ones first.
    leased = lease_batch(project, users[1], size=5)
    assert len(leased.assignments) == 5
    assert Wave.objects.get(pk=wave.pk).picks.filter(slots_taken__gt=F("overlap")).count() == 0



@pytest.mark.django_db(transaction=True)
def test_planning_a_wave_refreshes_the_statistics(postgres_only, project_factory):
    from labeling.waves.services import plan_next_wave

    from .test_loop_helpers import build_project

    project, _ = build_project(project_factory, slug="stats", n_items=60, n_labeled=0, wave_size=12, batch_size=4)
    with transaction.atomic():  # as the worker's task plans, inside a transaction: ANALYZE follows the commit
        wave = plan_next_wave(project)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'waves_waveitem'")
        assert cursor.fetchone()[0] == WaveItem.objects.count() == wave.size == 12
