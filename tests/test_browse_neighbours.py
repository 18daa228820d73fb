"""Nearest neighbours on the item page: planted near-twins come first, results match a brute-force
search over the learner's own pool matrix, and the scan stays within its row budget."""
import numpy as np
import pytest
from django.conf import settings

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.neighbours import neighbours
from labeling.modeling.embedding_store import clear_memos, project_matrix
from labeling.modeling.models import Embedding
from learner.text import text_hash

from . import test_loop_helpers as loop_helpers

pytestmark = pytest.mark.django_db


def twin(project, of: Item, text: str, noise: float, rng) -> Item:
    vector = np.frombuffer(bytes(Embedding.objects.get(text_hash=of.text_hash).vector), dtype=np.float32)
    vector = vector + noise * rng.normal(size=vector.shape).astype(np.float32)
    item = Item.objects.create(project=project, text=text, text_hash=text_hash(text))
    Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=item.text_hash,
                             vector=(vector / np.linalg.norm(vector)).astype(np.float32).tobytes())
    return item


@pytest.fixture
def pool(project_factory):
    project, _ = loop_helpers.build_project(project_factory, slug="nn", n_items=300, n_labeled=60)
    rng = np.random.default_rng(5)
    labeled = set(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    anchor = Item.objects.filter(project=project).exclude(id__in=labeled).order_by("id")[10]
    unlabeled_twin = twin(project, anchor, "unlabeled near-twin", 0.001, rng)
    labeled_twin = twin(project, anchor, "labeled near-twin", 0.002, rng)
    Annotation.objects.create(project=project, item=labeled_twin, label=project.labels.get(name="fraud"),
                              origin=Annotation.IMPORT)
    clear_memos()
    return project, anchor, unlabeled_twin, labeled_twin


def test_twins_come_first_and_match_brute_force(pool):
    project, anchor, unlabeled_twin, labeled_twin = pool
    found = neighbours(project, anchor, k=8)
    assert found["available"] and not found["sampled"]
    assert found["unlabeled"][0]["id"] == unlabeled_twin.id and found["unlabeled"][0]["similarity"] > 0.99
    assert (found["labeled"][0]["id"], found["labeled"][0]["label"]) == (labeled_twin.id, "fraud")
    # Brute force over the learner's pool matrix (another read path of the same cache).
    ids, matrix = project_matrix(project.id, settings.LONGTAIL_MODEL_ID)
    sims = matrix @ matrix[list(ids).index(anchor.id)]
    labeled = set(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    order = [int(ids[i]) for i in np.argsort(-sims, kind="stable") if int(ids[i]) != anchor.id]
    assert [n["id"] for n in found["unlabeled"]] == [i for i in order if i not in labeled][:8]
    assert [n["id"] for n in found["labeled"]] == [i for i in order if i in labeled][:8]
    assert found["scanned_labeled"] == len(labeled) and found["scanned_unlabeled"] == len(ids) - len(labeled) - 1


def test_scan_is_bounded_on_a_large_pool(pool, settings):
    project, anchor, *_ = pool
    settings.LONGTAIL_NEIGHBOUR_SCAN_ROWS = 40
    found = neighbours(project, anchor, k=5)
    assert found["sampled"] is True
    assert 0 < found["scanned_unlabeled"] <= 40 and 0 < found["scanned_labeled"] <= 40
    assert len(found["unlabeled"]) == 5 and len(found["labeled"]) == 5


def test_an_item_without_a_vector_says_so(project_factory):
    project = project_factory("bare")
    item = Item.objects.create(project=project, text="new", text_hash=text_hash("new"))
    found = neighbours(project, item)
    assert found["available"] is False and "no embedding yet" in found["message"]
