"""The ONNX Runtime encoder backends against sentence-transformers on torch, on CPU.

One test builds the export (fp32 + int8) for real, on first use, in a fresh process whose sockets
refuse to connect, under a temporary artifact directory. The others work on a copy of the run's
shared export (tests/encoder_exports.py, the same ensure_onnx_model build): they load it back,
compare vectors, reuse and rebuild the cache, and exercise get_encoder's choice on copies of it
whose manifest says otherwise."""
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learner.embedding import (
    EncoderQualityError,
    MemoryEmbeddingCache,
    bundled_model_path,
    embed_texts,
    get_encoder,
)
from learner.encoders.check import SHARED_ID_MAX_COSINE_DISTANCE, cosine_distances
from learner.encoders.onnx_export import ensure_onnx_model, file_sha256
from learner.text import text_hash
from tests.encoder_exports import copy_exports, offer

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "all-MiniLM-L6-v2"

# Sockets refuse and count every connection attempt; the script prints the count last.
NO_NETWORK = """
import json, socket
ATTEMPTS = []
def _refuse(*args, **kwargs):
    ATTEMPTS.append(repr(args[1:2]))
    raise OSError("network disabled by the test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""

# Not CHECK_TEXTS (the export's own check): other wording, lengths and scripts.
TEXTS = [
    "I was charged a fee when I withdrew cash abroad, why?",
    "card payment still pending after three days",
    "How long does a bank transfer from the US take?",
    "Can I top up with Apple Pay?",
    "my PIN is blocked",
    "WHY IS MY ACCOUNT FROZEN",
    "What is the capital of Australia?",
    "Name a famous painter from the Netherlands.",
    "@delta flight 1043 delayed 4 hours and no one at the gate #fail",
    "Thanks for the upgrade, lovely crew on the LHR leg :)",
    "Je voudrais annuler ma carte, merci",
    "¿Dónde está mi reembolso?",
    "Привет, где мой перевод?",
    "x",
    "   ",
    "a " * 400,  # truncated at 256 tokens
    "The exchange rate applied to my transfer looks wrong; I expected 1.17 but got 1.12, and the fee "
    "was also higher than the app showed before I confirmed.",
    "I ordered a new card two weeks ago and it still has not arrived, can you send another one?",
]


def run_python(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DJANGO_SETTINGS_MODULE"}}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    """An artifact directory holding the fp32 and int8 exports: a copy of the run's shared export."""
    return copy_exports(tmp_path_factory.mktemp("artifacts"))


def test_the_export_is_built_offline_on_first_use_in_a_fresh_process(tmp_path):
    """The one real build of this suite's exports: a fresh process, sockets refused, an empty
    artifact directory; both variants are built, checked and recorded."""
    artifact_dir = tmp_path / "artifacts"
    code = NO_NETWORK + (
        "from learner.encoders.onnx_export import ensure_onnx_model\n"
        f"path, entry = ensure_onnx_model({bundled_model_path()!r}, {str(artifact_dir)!r}, 'int8',"
        " threads=2, speed_rounds=1)\n"
        "print(json.dumps({'attempts': ATTEMPTS, 'file': str(path)}))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["attempts"] == [], f"the export tried to reach the network: {report['attempts']}"
    manifest_path, manifest = manifest_of(artifact_dir)
    assert set(manifest["variants"]) == {"fp32", "int8"}
    assert report["file"] == str(manifest_path.parent / manifest["variants"]["int8"]["file"])
    for entry in manifest["variants"].values():
        assert file_sha256(manifest_path.parent / entry["file"]) == entry["sha256"]
    assert manifest["variants"]["int8"]["check"]["mean_cosine_distance"] < 1e-2
    offer(artifact_dir)  # the module's other tests (and the run's other files) need not build it again


def manifest_of(artifact_dir: Path) -> tuple[Path, dict]:
    [path] = list((artifact_dir / "encoders").glob("*/manifest.json"))
    return path, json.loads(path.read_text())


def torch_vectors(texts):
    # The reference: what the product encoded with before this backend existed.
    return get_encoder(None, MODEL_ID, backend="torch", device="cpu").encode(texts)


def test_tokenizer_matches_sentence_transformers(export_dir):
    onnx = get_encoder(None, MODEL_ID, backend="onnx", artifact_dir=export_dir, threads=2)
    reference = get_encoder(None, MODEL_ID, backend="torch", device="cpu").model  # a SentenceTransformer
    for text in TEXTS:
        expected = reference.tokenize([text])["input_ids"][0].tolist()
        assert onnx.model.tokenizer.encode(text).ids == expected, text


def test_onnx_fp32_vectors_match_torch_and_share_its_model_id(export_dir):
    onnx = get_encoder(None, MODEL_ID, backend="onnx", artifact_dir=export_dir, threads=2)
    vectors = onnx.encode(TEXTS)
    assert onnx.active_backend == "onnx-fp32" and onnx.device == "cpu"
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    distances = cosine_distances(torch_vectors(TEXTS), vectors)
    assert distances.max() <= SHARED_ID_MAX_COSINE_DISTANCE, distances
    assert onnx.model_id == MODEL_ID
    # order is kept although batches run longest first
    assert np.allclose(onnx.encode(TEXTS[::-1])[::-1], vectors, atol=1e-6)


def test_int8_has_its_own_model_id_and_stays_close(export_dir, monkeypatch):
    int8 = get_encoder(None, MODEL_ID, backend="onnx-int8", artifact_dir=export_dir, threads=2)
    assert int8.model_id == MODEL_ID + "+onnx-int8"
    distances = cosine_distances(torch_vectors(TEXTS), int8.encode(TEXTS))
    assert distances.mean() < 1e-3 and distances.max() < 5e-3, distances
    # A cache filled by torch serves torch, never the int8 encoder: int8 encodes every text itself.
    cache = MemoryEmbeddingCache()
    torch_encoder = get_encoder(None, MODEL_ID, backend="torch", device="cpu")
    embed_texts(TEXTS[:4], torch_encoder, cache)
    hashes = [text_hash(t) for t in TEXTS[:4]]
    assert len(cache.get_many(MODEL_ID, hashes)) == 4 and cache.get_many(int8.model_id, hashes) == {}
    calls = []
    real = int8.encode
    monkeypatch.setattr(int8, "encode", lambda texts: calls.append(list(texts)) or real(texts))
    embed_texts(TEXTS[:4], int8, cache)
    assert calls == [TEXTS[:4]]
    assert len(cache) == 8


def test_second_load_reuses_the_export_in_a_fresh_process_without_torch(export_dir):
    manifest_path, manifest = manifest_of(export_dir)
    files = {name: manifest_path.parent / entry["file"] for name, entry in manifest["variants"].items()}
    before = {name: path.stat().st_mtime_ns for name, path in files.items()}
    code = NO_NETWORK + (
        "import sys\n"
        "from learner.embedding import Encoder\n"
        f"e = Encoder(backend='onnx', artifact_dir={str(export_dir)!r}, threads=2)\n"
        "v = e.encode(['my card was charged twice'])\n"
        "print(json.dumps({'attempts': ATTEMPTS, 'backend': e.active_backend, 'torch': 'torch' in sys.modules,"
        " 'norm': float((v ** 2).sum())}))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The export needs torch; a process that never imported it cannot have exported again.
    assert report == {"attempts": [], "backend": "onnx-fp32", "torch": False, "norm": pytest.approx(1.0, abs=1e-5)}
    assert {name: path.stat().st_mtime_ns for name, path in files.items()} == before
    again, _ = ensure_onnx_model(bundled_model_path(), export_dir, "fp32")
    assert again == files["fp32"] and again.stat().st_mtime_ns == before["fp32"]


def copy_cache(source: Path, target: Path) -> Path:
    """Another artifact directory with the same exports (hard links) and its own manifest."""
    shutil.copytree(source, target, copy_function=os.link)
    manifest_path, _ = manifest_of(target)
    manifest_path.unlink()
    shutil.copy(manifest_of(source)[0], manifest_path)
    return target


def test_corrupt_cached_file_is_rebuilt_with_a_clear_log_line(export_dir, tmp_path, caplog):
    artifact_dir = tmp_path / "artifacts"
    shutil.copytree(export_dir, artifact_dir)
    manifest_path, manifest = manifest_of(artifact_dir)
    int8_file = manifest_path.parent / manifest["variants"]["int8"]["file"]
    with int8_file.open("r+b") as fh:  # flip bytes in the middle of the weights
        fh.seek(int8_file.stat().st_size // 2)
        fh.write(b"\x00" * 64)
    with caplog.at_level(logging.WARNING, logger="learner.encoders.onnx_export"):
        path, entry = ensure_onnx_model(bundled_model_path(), artifact_dir, "int8", threads=2, speed_rounds=1)
    assert path == int8_file
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(int8_file) in m and "corrupt" in m and "rebuilding" in m for m in warnings), warnings
    assert file_sha256(int8_file) == entry["sha256"] == manifest_of(artifact_dir)[1]["variants"]["int8"]["sha256"]
    encoder = get_encoder(None, MODEL_ID, backend="onnx-int8", artifact_dir=artifact_dir, threads=2)
    assert cosine_distances(torch_vectors(TEXTS), encoder.encode(TEXTS)).mean() < 1e-3


def with_check(export_dir: Path, target: Path, **check) -> Path:
    artifact_dir = copy_cache(export_dir, target)
    manifest_path, manifest = manifest_of(artifact_dir)
    manifest["variants"]["fp32"]["check"].update(check)
    manifest_path.write_text(json.dumps(manifest))
    return artifact_dir


def test_auto_uses_onnx_on_cpu_when_it_was_faster_and_passed(export_dir, tmp_path):
    artifact_dir = with_check(export_dir, tmp_path / "a", speedup=1.6, max_cosine_distance=2e-7)
    encoder = get_encoder(None, MODEL_ID, artifact_dir=artifact_dir, device="cpu", threads=2)
    encoder.encode(["hello"])
    assert encoder.active_backend == "onnx-fp32" and encoder.model_id == MODEL_ID
    assert "1.60x" in encoder.choice_reason


@pytest.mark.parametrize(("check", "reason"), [
    ({"speedup": 0.8}, "ran at 0.80x torch"),
    ({"max_cosine_distance": 3e-4}, "3.00e-04 cosine distance"),
])
def test_auto_falls_back_to_torch_when_onnx_was_slower_or_differed(export_dir, tmp_path, check, reason):
    artifact_dir = with_check(export_dir, tmp_path / "a", **check)
    encoder = get_encoder(None, MODEL_ID, artifact_dir=artifact_dir, device="cpu")
    encoder.encode(["hello"])
    assert encoder.active_backend == "torch-fp32" and encoder.model_id == MODEL_ID
    assert reason in encoder.choice_reason


def test_explicit_onnx_refuses_vectors_beyond_the_shared_id_tolerance(export_dir, tmp_path):
    artifact_dir = with_check(export_dir, tmp_path / "a", max_cosine_distance=3e-4)
    encoder = get_encoder(None, MODEL_ID, backend="onnx", artifact_dir=artifact_dir)
    with pytest.raises(EncoderQualityError, match="3.00e-04 cosine distance from torch fp32"):
        encoder.encode(["hello"])
