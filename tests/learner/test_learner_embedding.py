import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learner.embedding import (
    DirectoryEmbeddingCache,
    Encoder,
    MemoryEmbeddingCache,
    bundled_model_path,
    embed_texts,
    get_encoder,
)
from learner.text import text_hash

CORE_MODULES = ["embedding", "weighting", "heads", "splits", "calibration", "thresholds", "heads.hierarchy",
                "heads.other_bucket", "metrics", "training"]
REPO = Path(__file__).resolve().parents[2]


def test_core_modules_import_without_django():
    code = (
        "import sys\n"
        + "".join(f"import learner.{m}\n" for m in CORE_MODULES)
        + "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        + "assert not bad, bad\n"
        + "assert 'sentence_transformers' not in sys.modules, 'the encoder must load lazily'\n"
        + "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_encoder_is_lazy_and_memoised():
    a = get_encoder(None, "all-MiniLM-L6-v2")
    b = get_encoder(bundled_model_path(), "all-MiniLM-L6-v2")
    assert a is b
    assert Encoder(model_id="x").loaded is False  # constructing never loads the model


def test_real_encoder_shape_norm_and_cache_hits(monkeypatch):
    encoder = get_encoder(bundled_model_path(), "all-MiniLM-L6-v2")
    calls = []
    real_encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts: calls.append(list(texts)) or real_encode(texts))
    cache = MemoryEmbeddingCache()
    texts = ["My card was charged twice", "my card  was CHARGED twice", "Where is my refund?"]
    vectors = embed_texts(texts, encoder, cache)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the two texts with the same normalised form were encoded once and share a vector
    assert calls == [["My card was charged twice", "Where is my refund?"]]
    assert np.array_equal(vectors[0], vectors[1])
    assert len(cache) == 2
    assert encoder.device in ("cpu", "cuda")
    # pre-sorted batches are a CUDA path only; on the CPU the backend's own encode runs
    if encoder.device == "cpu":
        assert encoder.presorted_batches is False
    # a second pass is served from the cache; only the new text is encoded
    again = embed_texts(texts + ["Cancel my transfer"], encoder, cache)
    assert calls[1:] == [["Cancel my transfer"]]
    assert np.array_equal(again[:3], vectors)
    assert float(again[0] @ again[2]) < float(again[0] @ again[1])


def test_directory_cache_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    vectors = {text_hash(f"text {i}"): rng.normal(size=4).astype(np.float32) for i in range(5)}
    cache = DirectoryEmbeddingCache(tmp_path / "emb")
    assert cache.get_many("m1", list(vectors)) == {}
    cache.put_many("m1", dict(list(vectors.items())[:3]))
    cache.put_many("m1", dict(list(vectors.items())[3:]))
    reopened = DirectoryEmbeddingCache(tmp_path / "emb")
    got = reopened.get_many("m1", list(vectors) + ["missing"])
    assert set(got) == set(vectors)
    for h, v in vectors.items():
        assert np.array_equal(got[h], v)
    assert reopened.get_many("m2", list(vectors)) == {}  # keyed by model id too
    assert len(list((tmp_path / "emb").glob("*.npz"))) == 1


def test_embed_texts_rejects_misaligned_hashes():
    with pytest.raises(ValueError, match="2 texts but 1 hashes"):
        embed_texts(["a", "b"], Encoder(model_id="x"), None, hashes=["h"])


def test_presorted_batches_give_sentence_transformers_vectors_in_input_order():
    """The GPU path (learner.encoders.gpu_batches) run on CPU: tokenised once, batches cut by
    length, padded here; each row must be the vector model.encode gives that text."""
    from sentence_transformers import SentenceTransformer

    from learner.encoders.gpu_batches import encode_presorted

    model = SentenceTransformer(bundled_model_path(), device="cpu", local_files_only=True)
    texts = ["", "refund please", "word " * 400, "Ünïcödé ✓ 🙂 card", "my card was charged twice",
             "a", "why was my transfer declined by the bank yesterday evening", "refund please"]
    got = encode_presorted(model, texts, batch_size=3)
    want = model.encode(texts, batch_size=3, normalize_embeddings=True, convert_to_numpy=True)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.min(np.sum(got * want, axis=1)) > 1 - 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert np.allclose(got[1], got[7], atol=1e-6)
    assert encode_presorted(model, [], batch_size=3).shape == (0, 384)
