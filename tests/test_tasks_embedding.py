"""Embedding through the Celery tasks with the real bundled encoder: the pool is embedded in
chunks into the Embedding table, and nothing is embedded twice."""
import numpy as np

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery


def test_first_wave_embeds_the_pool_once_with_the_real_encoder(db, project_factory, eager_celery,
                                                                 django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.loop import tasks
    from labeling.loop.pipeline import plan_first_wave
    from labeling.loop.triggers import request_embedding
    from labeling.modeling.embedding import unembedded_item_ids
    from labeling.modeling.embedding_store import memo
    from labeling.modeling.models import Embedding, TaskRun
    from learner.text import text_hash

    project = project_factory("embedme", labels=("refund", "password reset"))
    texts = [f"I want my money back for order {w}" for w in ("alpha", "bravo", "charlie", "delta")]
    texts += [f"I cannot log in, please reset my password ({w})" for w in ("echo", "foxtrot", "golf")]
    texts += ["i want my money back for order ALPHA"]  # an exact duplicate after normalization
    Item.objects.bulk_create([Item(project=project, text=t, text_hash=text_hash(t)) for t in texts])
    assert len(unembedded_item_ids(project)) == 8

    with django_capture_on_commit_callbacks(execute=True):
        run = request_embedding(project)
    run.refresh_from_db()
    assert run.state == TaskRun.DONE and run.progress == 1.0, run.message
    assert unembedded_item_ids(project) == []
    # 7 distinct normalized texts → 7 vectors, unit length, 384-d.
    rows = Embedding.objects.filter(text_hash__in={text_hash(t) for t in texts})
    assert rows.count() == 7
    vec = np.frombuffer(bytes(rows.first().vector), dtype=np.float32)
    assert vec.shape == (384,) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-3

    memo.clear()
    before = Embedding.objects.count()
    ids = list(Item.objects.filter(project=project).values_list("id", flat=True))
    assert tasks.embed_items.delay(ids).get() == 0
    wave = plan_first_wave(project)  # label texts are embedded too, the pool is not re-embedded
    assert wave.state == "open" and wave.cold_start and 1 <= wave.size <= 7
    assert Embedding.objects.count() == before + 2  # the two label names
