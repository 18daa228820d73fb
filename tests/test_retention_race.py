"""Pruning while a scoring chunk writes the version's scores (two PostgreSQL connections): the chunk
share-locks its version to write (modeling.scores.hold_version), and pruning does not wait for it or
delete under it: that version is left this time, with what the chunk wrote, and the others are
pruned. Once the chunk has committed, the next run prunes it, the chunk's rows included."""
import threading

import pytest
from django.db import connections, transaction

from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.retention import prune_project
from labeling.modeling.scores import hold_version
from tests.db_threads import in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def score(version, item) -> None:
    ItemScore.objects.create(model_version=version, item=item, probs=b"\x00<\x00<", top_label=0, top_prob=0.9,
                             margin=0.5, entropy=0.1)


def test_a_version_being_scored_is_left_and_pruned_by_the_next_run(project_factory, postgres_only):
    project = project_factory("racing")
    items = [Item.objects.create(project=project, text=f"ticket {i}", text_hash=f"h{i}") for i in range(4)]
    versions = [ModelVersion.objects.create(project=project, number=n, state=ModelVersion.RETIRED)
                for n in (1, 2)]
    versions.append(ModelVersion.objects.create(project=project, number=3, state=ModelVersion.ACTIVE))
    for version in versions:
        for item in items[:3]:
            score(version, item)
    held = versions[0]
    written, release = threading.Event(), threading.Event()
    errors = []

    def chunk():  # what score_range does in its write transaction, held open
        try:
            with transaction.atomic():
                assert hold_version(held)
                score(held, items[3])
                written.set()
                release.wait(30)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=chunk)
    writer.start()
    try:
        assert written.wait(30)
        pruner, outcome = in_thread(lambda: prune_project(project, keep=1))
        pruner.join(15)
        assert not pruner.is_alive(), "pruning waited for the scoring chunk's transaction"
    finally:
        release.set()
        writer.join(30)
    assert not errors, errors
    assert "error" not in outcome, outcome
    report = outcome["result"]
    left, pruned = report.versions
    assert (left.number, pruned.number) == (1, 2)
    assert left.skipped == "being scored right now (its row is locked); run prune_models again later"
    assert pruned.skipped is None and pruned.score_rows == 3
    assert ItemScore.objects.filter(model_version=held).count() == 4  # the chunk's row committed after
    assert ModelVersion.objects.get(pk=held.pk).pruned_at is None

    again = prune_project(project, keep=1)
    assert [(v.number, v.score_rows, v.skipped) for v in again.versions] == [(1, 4, None)]
    assert ItemScore.objects.filter(model_version=held).count() == 0
    assert ItemScore.objects.filter(model_version=versions[2]).count() == 3


def test_rows_are_deleted_in_chunks_each_committed(project_factory, postgres_only, monkeypatch):
    """Every chunk of the deletion is a transaction of its own: before each chunk, a second
    connection sees the rows the earlier chunks deleted gone (here 2 rows at a time), not all of
    them at once at the end."""
    from labeling.modeling import retention

    project = project_factory("chunks")
    items = [Item.objects.create(project=project, text=f"ticket {i}", text_hash=f"c{i}") for i in range(5)]
    old = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.RETIRED)
    ModelVersion.objects.create(project=project, number=2, state=ModelVersion.ACTIVE)
    for item in items:
        score(old, item)
    seen = []
    raw_delete = ItemScore.objects.none()._raw_delete.__func__

    def watched(queryset, using):
        if queryset.model is ItemScore:  # what another connection sees before each chunk
            looker, outcome = in_thread(lambda: ItemScore.objects.filter(model_version_id=old.pk).count())
            looker.join(10)
            seen.append(outcome.get("result"))
        return raw_delete(queryset, using)

    monkeypatch.setattr(retention, "DELETE_CHUNK", 2)
    monkeypatch.setattr(type(ItemScore.objects.none()), "_raw_delete", watched)
    assert prune_project(project, keep=1).versions[0].score_rows == 5
    assert seen == [5, 3, 1]
