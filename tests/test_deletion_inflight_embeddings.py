"""An embedding chunk still running when ``delete_project --force`` removes its project stores no
vectors of it afterwards: the chunk writes under its project's row lock (FOR KEY SHARE), which the
deletion takes FOR UPDATE before anything else, so the chunk either commits first (and its vectors
go with the rest) or waits and finds the project gone. Embeddings are keyed by (encoder, text) and
shared: texts another project has keep their vectors, and that project's chunks write as before.

The audit saw a chunk that was encoding during a forced deletion write its vectors afterwards,
rows no project used. Real encoder (torch, CPU), real PostgreSQL connections: the deletion runs on
a second connection while the chunk is between its encoding and its write."""
import threading
import time
from functools import partial

import pytest
from django.db import transaction

from labeling.items.models import Item
from labeling.modeling import embedding
from labeling.modeling.embedding import embed_items, embed_query_texts, model_id, unembedded_item_ids
from labeling.modeling.embedding_store import clear_memos
from labeling.modeling.models import Embedding, TaskRun
from labeling.projects.deletion import delete_project
from labeling.projects.models import Project
from learner.text import exact_text_hash, text_hash
from tests.db_threads import backends_waiting_on_locks, in_thread

pytestmark = pytest.mark.django_db(transaction=True)


class PausingEncoder:
    """The process's real encoder; ``after_encode`` runs once its vectors are computed, before the
    chunk writes them (where a worker's chunk is when a deletion lands)."""

    def __init__(self, real):
        self.real, self.model_id, self.after_encode = real, real.model_id, None

    def encode(self, texts):
        vectors = self.real.encode(texts)
        if self.after_encode is not None:
            self.after_encode()
        return vectors


@pytest.fixture
def paused_encoder(settings, monkeypatch, postgres_only):
    settings.LONGTAIL_ENCODER_BACKEND = "torch"  # no ONNX export built for the test
    clear_memos()  # vectors this process remembers would be written back, never encoded
    wrapper = PausingEncoder(embedding.encoder())
    monkeypatch.setattr(embedding, "encoder", lambda: wrapper)
    yield wrapper
    clear_memos()


def items_of(project, texts) -> list[int]:
    Item.objects.bulk_create([Item(project=project, text=text, text_hash=text_hash(text)) for text in texts])
    return sorted(Item.objects.filter(project=project, text__in=texts).values_list("pk", flat=True))


def stored(texts) -> set[str]:
    """The texts with a stored vector: an item's under text_hash, a label text's under its exact hash."""
    hashes = {h(text): text for text in texts for h in (text_hash, exact_text_hash)}
    return {hashes[h] for h in Embedding.objects.filter(model_id=model_id(), text_hash__in=list(hashes))
            .values_list("text_hash", flat=True)}


def delete_on_another_connection(project):
    thread, outcome = in_thread(partial(delete_project, project, force=True))
    thread.join(60)
    assert not thread.is_alive() and "error" not in outcome, outcome


def embedding_run(project):
    return TaskRun.objects.create(project=project, kind="embed", state=TaskRun.RUNNING, detail={"stage": "embed"})


def test_a_chunk_encoding_while_its_project_is_deleted_writes_no_vectors(project_factory, paused_encoder):
    project = project_factory("inflight")
    texts = ["the invoice came twice", "cannot reset my password", "card charged in another country"]
    ids = items_of(project, texts)
    embedding_run(project)  # the deletion goes past it (force)
    paused_encoder.after_encode = partial(delete_on_another_connection, project)

    assert embed_items(ids) == 3  # encoded; its project was deleted before the write
    assert not Project.objects.filter(pk=project.pk).exists()
    assert stored(texts) == set()  # before: three vectors no project used


def test_a_deletion_waits_for_a_chunk_that_is_writing_then_deletes_its_vectors(project_factory, paused_encoder):
    project = project_factory("writing")
    texts = ["the app logs me out", "refund for a double charge"]
    ids = items_of(project, texts)
    embedding_run(project)
    written, release = threading.Event(), threading.Event()

    def chunk():
        with transaction.atomic():  # its write transaction, kept open until released
            encoded = embed_items(ids)
            written.set()
            release.wait(30)
        return encoded

    writer, wrote = in_thread(chunk)
    assert written.wait(60), wrote
    deleter, deleted = in_thread(partial(delete_project, project, force=True))
    waited_until = time.monotonic() + 10
    while backends_waiting_on_locks() == 0 and time.monotonic() < waited_until:
        time.sleep(0.05)
    assert deleter.is_alive() and backends_waiting_on_locks() == 1  # the deletion waits for the chunk's commit
    release.set()
    writer.join(30)
    deleter.join(30)
    assert wrote == {"result": 2} and "error" not in deleted, (wrote, deleted)
    assert not Project.objects.filter(pk=project.pk).exists()
    assert stored(texts) == set()  # committed first, then deleted with the project's other rows


def test_shared_texts_keep_their_vectors_and_the_other_projects_items_are_written(project_factory,
                                                                                   paused_encoder):
    kept, gone = project_factory("kept"), project_factory("gone")
    shared, kept_only, gone_only = "where is my parcel", "change my delivery address", "close my gone account"
    items_of(kept, [shared])
    items_of(gone, [shared])
    assert embed_items(unembedded_item_ids(kept)) == 1  # one vector, both projects' item reads it
    assert unembedded_item_ids(gone) == []
    # One chunk with an item of each (embed_items takes any ids): gone is deleted while it encodes.
    chunk = items_of(kept, [kept_only]) + items_of(gone, [gone_only])
    paused_encoder.after_encode = partial(delete_on_another_connection, gone)

    assert embed_items(chunk) == 2
    assert not Project.objects.filter(pk=gone.pk).exists()
    assert stored([shared, kept_only, gone_only]) == {shared, kept_only}  # before: gone_only's vector too
    assert unembedded_item_ids(kept) == []


def test_label_texts_encoded_for_a_project_deleted_meanwhile_are_not_stored(project_factory, paused_encoder):
    """The label-name prior and the planner embed "name: description" texts of the project's labels."""
    project = project_factory("labels")
    texts = ["billing: a label only this project has", "login: another one"]
    paused_encoder.after_encode = partial(delete_on_another_connection, project)

    vectors = embed_query_texts(texts, project_id=project.pk)
    assert vectors.shape == (2, 384)  # the caller still gets its vectors
    assert stored(texts) == set()
    paused_encoder.after_encode = None
    kept = project_factory("kept")
    embed_query_texts(texts, project_id=kept.pk)
    assert stored(texts) == set(texts)
