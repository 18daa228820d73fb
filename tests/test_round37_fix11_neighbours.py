"""Item-page neighbours on the int8 encoder backend (vectors stored under the backend's own key),
and from the per-process pool copy where the process keeps one (same rows as the SQL scan)."""
import numpy as np
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.neighbours import neighbours
from labeling.modeling.embedding import model_id
from labeling.modeling.embedding_store import clear_memos
from labeling.modeling.models import Embedding
from learner.text import text_hash

from . import test_loop_helpers as loop_helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(project_factory):
    project, _ = loop_helpers.build_project(project_factory, slug="nn11", n_items=200, n_labeled=40)
    labeled = set(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    anchor = Item.objects.filter(project=project).exclude(id__in=labeled).order_by("id")[5]
    vector = np.frombuffer(bytes(Embedding.objects.get(text_hash=anchor.text_hash).vector), dtype=np.float32)
    twin = Item.objects.create(project=project, text="near twin", text_hash=text_hash("near twin"))
    Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=twin.text_hash,
                             vector=(vector + 0.001).astype(np.float32).tobytes())
    clear_memos()
    return project, anchor, twin


def test_int8_backend_finds_the_vectors_an_int8_worker_stored(pool, settings, make_user):
    project, anchor, twin = pool
    settings.LONGTAIL_ENCODER_BACKEND = "onnx-int8"
    int8_key = model_id()
    assert int8_key != settings.LONGTAIL_MODEL_ID
    # An int8 worker writes its vectors under its own key; nothing is stored under the fp32 key.
    Embedding.objects.filter(model_id=settings.LONGTAIL_MODEL_ID).update(model_id=int8_key)
    client = APIClient()
    client.force_authenticate(make_user("root11", superuser=True))
    response = client.get(f"/api/projects/{project.slug}/items/{anchor.id}/")
    assert response.status_code == 200
    found = response.json()["neighbours"]
    assert found["available"] is True, found
    assert found["unlabeled"][0]["id"] == twin.id and found["scanned_labeled"] > 0


def _ids(found):
    return ([n["id"] for n in found["labeled"]], [n["id"] for n in found["unlabeled"]],
            found["scanned_labeled"], found["scanned_unlabeled"], found["sampled"])


@pytest.mark.parametrize("scan_rows", [50_000, 30])
def test_kept_pool_copy_gives_the_sql_scan_result_without_copying_vectors_again(
        pool, settings, postgres_only, scan_rows):
    project, anchor, twin = pool
    settings.LONGTAIL_NEIGHBOUR_SCAN_ROWS = scan_rows
    settings.LONGTAIL_POOL_MEMO_PROJECTS = 0
    from_sql = neighbours(project, anchor, k=6)
    if scan_rows < 100:
        # The pool is bigger than both sides' scans: the SQL scan (bounded) is used, never a whole-pool copy.
        settings.LONGTAIL_POOL_MEMO_PROJECTS = 1
        assert _ids(neighbours(project, anchor, k=6)) == _ids(from_sql) and from_sql["sampled"]
        return
    settings.LONGTAIL_POOL_MEMO_PROJECTS = 1
    first = neighbours(project, anchor, k=6)
    assert _ids(first) == _ids(from_sql) and first["unlabeled"][0]["id"] == twin.id
    # The repeat view is served from the process's copy: remove the other items' stored vectors
    # (the item fingerprint is unchanged) and the same neighbours still come back.
    Embedding.objects.exclude(text_hash=anchor.text_hash).delete()
    assert _ids(neighbours(project, anchor, k=6)) == _ids(from_sql)
    settings.LONGTAIL_POOL_MEMO_PROJECTS = 0
    assert neighbours(project, anchor, k=6)["scanned_labeled"] == 0  # the SQL scan reads the table
