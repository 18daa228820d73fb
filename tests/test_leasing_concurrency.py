"""Real concurrency on PostgreSQL: annotators leasing at the same instant from separate
connections. SQLite has no row locks (Django ignores skip_locked there), so these run only
with DATABASE_URL=postgres://…"""
import threading
from collections import Counter

import pytest
from django.db import connection

from labeling.annotations import leasing
from labeling.annotations.models import Assignment
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, item_ids, make_open_wave  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def lease_all_at_once(project, users, size):
    """Every user leases in its own thread and connection, released together by a barrier."""
    barrier = threading.Barrier(len(users))
    results, errors = {}, []

    def work(user):
        try:
            barrier.wait(timeout=10)
            results[user.username] = item_ids(leasing.lease_batch(project, user, size=size))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    return results


def test_simultaneous_leases_get_disjoint_items(postgres_only, project_factory, make_user):
    project = project_factory("concurrent")
    users = [add_member(make_user, project, f"ann{i}") for i in range(4)]
    _, items = make_open_wave(project, 20, batch_size=5)
    for _round in range(3):
        Assignment.objects.all().delete()
        WaveItem.objects.update(slots_taken=0, slots_done=0)  # the counts follow rows deleted by hand
        results = lease_all_at_once(project, users, size=5)
        leased = [i for ids in results.values() for i in ids]
        assert sorted(leased) == sorted(i.pk for i in items)  # each item once, nobody short
        assert all(len(ids) == 5 for ids in results.values())


def test_simultaneous_leases_never_exceed_overlap(postgres_only, project_factory, make_user):
    project = project_factory("concurrent-overlap")
    users = [add_member(make_user, project, f"ann{i}") for i in range(6)]
    _, items = make_open_wave(project, 10, batch_size=5, double=set(range(10)))  # overlap 2 everywhere
    results = lease_all_at_once(project, users, size=5)
    per_item = Counter(i for ids in results.values() for i in ids)
    assert max(per_item.values()) <= 2
    for ids in results.values():
        assert len(ids) == len(set(ids))  # nobody holds one item twice
    # Whoever found every row locked at that instant gets the remaining slots now.
    for user in users:
        if not results[user.username]:
            per_item.update(item_ids(leasing.lease_batch(project, user, size=5)))
    assert per_item == Counter({i.pk: 2 for i in items})
    assert Assignment.objects.count() == 20
