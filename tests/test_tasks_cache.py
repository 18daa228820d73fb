"""The Embedding-table cache: pool matrices agree with row lookups, and the per-process copy of a
pool is dropped as soon as the project's items change."""
import numpy as np
import pytest
from django.conf import settings

from tests import test_loop_helpers as helpers


def test_project_matrix_matches_row_lookups(db, project_factory):
    from labeling.items.models import Item
    from labeling.modeling.embedding_store import clear_memos, project_matrix, vectors_for_items

    project, _ = helpers.build_project(project_factory, slug="cache", n_items=120, n_labeled=0)
    clear_memos()
    ids, matrix = project_matrix(project.id, settings.LONGTAIL_MODEL_ID)
    all_ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    assert ids.tolist() == all_ids and matrix.shape == (120, 384) and matrix.dtype == np.float32
    rows = vectors_for_items(project.id, settings.LONGTAIL_MODEL_ID, all_ids)
    assert np.array_equal(rows, matrix)
    part_ids, part = project_matrix(project.id, settings.LONGTAIL_MODEL_ID, id_min=all_ids[10], id_max=all_ids[19])
    assert part_ids.tolist() == all_ids[10:20] and np.array_equal(part, matrix[10:20])
    with pytest.raises(LookupError, match="1 item"):
        Item.objects.create(project=project, text="never embedded", text_hash="0" * 64)
        vectors_for_items(project.id, settings.LONGTAIL_MODEL_ID, [*all_ids[:3], Item.objects.latest("id").id])


def test_pool_copy_is_dropped_when_items_change(db, project_factory, settings):
    from django.db import connection

    from labeling.items.models import Item
    from labeling.modeling.embedding_store import clear_memos, pool_matrix
    from labeling.modeling.models import Embedding

    if connection.vendor != "postgresql":
        pytest.skip("the binary-COPY pool path and its per-process copy exist on PostgreSQL only")
    settings.LONGTAIL_POOL_MEMO_PROJECTS = 2  # what a worker process gets by default
    project, _ = helpers.build_project(project_factory, slug="memo", n_items=50, n_labeled=0)
    clear_memos()
    ids, first = pool_matrix(project.id, settings.LONGTAIL_MODEL_ID)
    again_ids, again = pool_matrix(project.id, settings.LONGTAIL_MODEL_ID)
    assert again is first and not first.flags.writeable  # served from the per-process copy
    # A new item with its vector, and one item deleted: the copy must not be served.
    new = Item.objects.create(project=project, text="brand new text", text_hash="f" * 64)
    Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash="f" * 64,
                             vector=np.ones(384, np.float32).tobytes())
    Item.objects.filter(pk=ids[0]).delete()
    fresh_ids, fresh = pool_matrix(project.id, settings.LONGTAIL_MODEL_ID)
    assert fresh is not first
    settings.LONGTAIL_POOL_MEMO_PROJECTS = 0  # web processes: no copy kept
    clear_memos()
    assert pool_matrix(project.id, settings.LONGTAIL_MODEL_ID)[1] is not pool_matrix(project.id, settings.LONGTAIL_MODEL_ID)[1]
    assert fresh_ids.tolist() == [*ids[1:].tolist(), new.id]
    assert np.array_equal(fresh[-1], np.ones(384, np.float32)) and np.array_equal(fresh[:-1], first[1:])


def test_scores_follow_their_item_and_version_when_deleted(db, project_factory, eager_celery,
                                                           django_capture_on_commit_callbacks):
    """ItemScore has no database-level foreign keys (speed); Django's cascade must still clean up."""
    from labeling.items.models import Item
    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import ItemScore
    from labeling.modeling.versions import active_model

    project, _ = helpers.build_project(project_factory, slug="cascade", n_items=80, n_labeled=30)
    with django_capture_on_commit_callbacks(execute=True):
        request_retrain(project)
    version = active_model(project)
    assert ItemScore.objects.filter(model_version=version).count() == 80
    item = Item.objects.filter(project=project).order_by("id").last()
    item.delete()
    assert not ItemScore.objects.filter(item_id=item.id).exists()
    version.delete()
    assert not ItemScore.objects.filter(model_version_id=version.id).exists()


eager_celery = helpers.eager_celery

