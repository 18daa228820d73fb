"""A routing pass (and a predict-API admission) holds the project's row for its whole length (seconds
on a large pool). An answer stored meanwhile (its foreign key to the project takes FOR KEY SHARE on
that row) must not wait for it: the lock is NO KEY UPDATE. Since such an answer no longer waits, the
pass, which read the labels before it, must not then open a low-confidence task for an item the
answer labeled.

Real PostgreSQL, two connections: the other writer runs in its own thread while the pass is between
reading the scores and locking the open tasks (the wrapper only starts it there and waits for it)."""
import threading

import pytest
from django.db import connection, transaction

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling import review
from labeling.modeling.review import ReviewGate, route_review

from .review_helpers import add_version, make_items

LABELS = ("billing", "login", "fraud")


@pytest.fixture
def pool(transactional_db, project_factory):
    project = project_factory("locks", labels=LABELS)
    project.band_low, project.band_high = 0.3, 0.7
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.save()
    items = make_items(project, 20)
    scores = {it.pk: (1, 0.5 if i < 6 else 0.95) for i, it in enumerate(items)}  # 6 doubtful "login"
    return project, items, scores


def _in_other_connection(fn, timeout=20):
    """Run ``fn`` in its own thread and database connection, under a 3 s lock timeout; returns its
    result or raises what it raised (a lock wait past 3 s: OperationalError)."""
    out, errors = [], []

    def run():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '3s'")
                out.append(fn())
        except Exception as exc:  # noqa: BLE001 - raised in the caller's thread
            errors.append(exc)
        finally:
            connection.close()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if errors:
        raise errors[0]
    assert out, "the other writer did not finish"
    return out[0]


def _during_the_pass(monkeypatch, fn):
    real = review._stored_scores
    seen = []

    def read_then_other_writes(version):
        result = real(version)
        if not seen:
            try:
                seen.append(_in_other_connection(fn))
            except Exception as exc:  # noqa: BLE001 - reported by the test
                seen.append(exc)
        return result
    monkeypatch.setattr(review, "_stored_scores", read_then_other_writes)
    return seen


def test_an_answer_stored_during_a_routing_pass_does_not_wait_for_it_nor_get_a_task(pool, monkeypatch):
    project, items, scores = pool
    target = items[2]  # doubtful under v1, no task yet: the pass would open one
    login = project.labels.get(name="login")
    seen = _during_the_pass(monkeypatch, lambda: Annotation.objects.create(
        project=project, item=target, label=login, origin=Annotation.IMPORT).pk)
    routing = route_review(add_version(project, 1, scores))
    assert seen and isinstance(seen[0], int), (
        f"an answer stored while the routing pass held the project did not go through: {seen!r}")
    opened = set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                           resolved_at__isnull=True).values_list("item_id", flat=True))
    assert target.pk not in opened, (
        f"item {target.pk} was labeled while the pass ran (before it wrote the queue); the pass opened a "
        f"low-confidence task for it anyway (open: {sorted(opened)})")
    assert opened == {it.pk for it in items[:6]} - {target.pk}, opened
    assert routing.created == 5


def test_an_answer_stored_while_a_predict_admission_holds_the_project_does_not_wait(pool):
    project, items, scores = pool
    add_version(project, 1, scores)
    login = project.labels.get(name="login")
    with transaction.atomic():
        ReviewGate.lock(project)  # as queue_predictions_for_review holds it while it admits texts
        pk = _in_other_connection(lambda: Annotation.objects.create(
            project=project, item=items[10], label=login, origin=Annotation.IMPORT).pk)
    assert Annotation.objects.filter(pk=pk).exists()


def test_two_routing_passes_still_take_turns(pool):
    """NO KEY UPDATE still excludes another pass (or an admission): the second waits, here past its
    lock timeout, while the first holds the row."""
    from django.db.utils import OperationalError

    project, items, scores = pool
    version = add_version(project, 1, scores)
    with transaction.atomic():
        ReviewGate.lock(project)
        with pytest.raises(OperationalError, match="lock timeout"):
            _in_other_connection(lambda: route_review(version))
    assert route_review(version).created == 6
