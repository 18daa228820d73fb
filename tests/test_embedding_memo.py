"""The per-process embedding memo never claims a vector whose row was rolled back."""
import numpy as np
import pytest
from django.db import transaction

from labeling.modeling.embedding_store import DbEmbeddingCache, memo
from labeling.modeling.models import Embedding


@pytest.mark.django_db(transaction=True)
def test_rolled_back_vectors_are_not_remembered():
    memo.clear()
    cache = DbEmbeddingCache()
    vector = np.ones(4, dtype=np.float32) / 2
    with pytest.raises(RuntimeError), transaction.atomic():
        cache.put_many("m", {"h-rolled-back": vector})
        raise RuntimeError("the import failed after embedding")
    assert not Embedding.objects.filter(text_hash="h-rolled-back").exists()
    assert memo.get("m", ["h-rolled-back"]) == {}
    assert cache.get_many("m", ["h-rolled-back"]) == {}


@pytest.mark.django_db(transaction=True)
def test_committed_vectors_are_remembered():
    memo.clear()
    cache = DbEmbeddingCache()
    vector = np.arange(4, dtype=np.float32)
    with transaction.atomic():
        cache.put_many("m", {"h-kept": vector})
    assert np.array_equal(memo.get("m", ["h-kept"])["h-kept"], vector)
    Embedding.objects.all().delete()  # the memo still answers: vectors are content-addressed
    assert np.array_equal(cache.get_many("m", ["h-kept"])["h-kept"], vector)
