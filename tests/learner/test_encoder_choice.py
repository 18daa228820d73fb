"""get_encoder's choice of backend where no ONNX export is involved: argument checks, torch
without an artifact directory, fp16 kept only when it matches fp32, memoisation, the setting."""
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import learner.embedding as embedding
from learner.embedding import BACKENDS, Encoder, encoder_model_id, get_encoder
from learner.encoders.check import cosine_distances

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["Where is my refund?", "card declined at the shop", "What year did the Titanic sink?"]


def test_unknown_backend_and_precision_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown encoder backend 'gpu'; choose one of auto, torch, onnx, onnx-int8"):
        Encoder(backend="gpu")
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        Encoder(precision="int4")


def test_onnx_needs_an_artifact_directory_and_the_cpu(tmp_path):
    with pytest.raises(ValueError, match="needs artifact_dir"):
        Encoder(backend="onnx")
    with pytest.raises(ValueError, match="runs on CPU, not 'cuda'"):
        Encoder(backend="onnx-int8", artifact_dir=tmp_path, device="cuda")


def test_model_ids_separate_int8_only():
    assert [encoder_model_id("m", b) for b in BACKENDS] == ["m", "m", "m", "m+onnx-int8"]
    assert Encoder(model_id="m", backend="onnx-int8", artifact_dir="/nonexistent").model_id == "m+onnx-int8"
    assert Encoder(model_id="m", backend="onnx-int8", artifact_dir="/nonexistent").loaded is False


def test_get_encoder_memoises_per_backend_and_artifact_dir(tmp_path):
    auto = get_encoder(None, "all-MiniLM-L6-v2")
    assert get_encoder(None, "all-MiniLM-L6-v2", backend="auto") is auto
    assert get_encoder(None, "all-MiniLM-L6-v2", backend="torch") is not auto
    a = get_encoder(None, "all-MiniLM-L6-v2", backend="onnx", artifact_dir=tmp_path)
    assert get_encoder(None, "all-MiniLM-L6-v2", backend="onnx", artifact_dir=str(tmp_path)) is a
    assert get_encoder(None, "all-MiniLM-L6-v2", backend="onnx", artifact_dir=tmp_path / "other") is not a


def test_auto_without_an_artifact_directory_is_torch():
    encoder = Encoder(backend="auto", device="cpu")
    encoder.encode(TEXTS)
    assert encoder.active_backend == "torch-fp32"
    assert encoder.choice_reason == "no artifact directory to cache an ONNX export in"


def test_fp16_is_kept_only_when_it_matches_fp32(monkeypatch, caplog):
    # fp16 is what CUDA runs; torch also runs it on CPU, which is how the check is exercised here.
    fp32 = Encoder(backend="torch", device="cpu", precision="fp32").encode(TEXTS)
    fp16 = Encoder(backend="torch", device="cpu", precision="fp16")
    half = fp16.encode(TEXTS)
    assert fp16.active_backend == "torch-fp16" and fp16.model_id == "all-MiniLM-L6-v2"
    distances = cosine_distances(fp32, half)
    assert 0 < distances.max() <= embedding.SHARED_ID_MAX_COSINE_DISTANCE

    monkeypatch.setattr(embedding, "SHARED_ID_MAX_COSINE_DISTANCE", 0.0)
    strict = Encoder(backend="torch", device="cpu", precision="fp16")
    with caplog.at_level(logging.WARNING, logger="learner.embedding"):
        vectors = strict.encode(TEXTS)
    assert strict.active_backend == "torch-fp32"
    assert any("torch fp16 on cpu" in r.getMessage() and "using fp32" in r.getMessage() for r in caplog.records)
    assert np.allclose(vectors, fp32, atol=1e-6)


def test_setting_accepts_each_backend_and_refuses_others_by_name():
    code = (
        "import importlib, os\n"
        "import config.settings as s\n"
        "from learner.embedding import BACKENDS\n"
        "for b in BACKENDS:\n"
        "    os.environ['LONGTAIL_ENCODER_BACKEND'] = b\n"
        "    assert importlib.reload(s).LONGTAIL_ENCODER_BACKEND == b\n"
        "os.environ['LONGTAIL_ENCODER_BACKEND'] = 'cuda'\n"
        "importlib.reload(s)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LONGTAIL_ENCODER_BACKEND"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "LONGTAIL_ENCODER_BACKEND='cuda' is not one of auto, torch, onnx, onnx-int8" in result.stderr
    assert "AssertionError" not in result.stderr
