"""A small labeled file and its vectors for ``manage.py simulate`` tests of bad options and files (the
round-39 simulate tests share it)."""
import json

import numpy as np
from django.core.management import call_command


def make_inputs(tmp_path, settings):
    """(folder, data.jsonl with 40 rows over two labels, vectors.npy of their 384-dim vectors)."""
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    rows = [{"text": f"text {label} number {i}", "label": label} for i in range(20) for label in ("alpha", "beta")]
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    vectors = tmp_path / "vectors.npy"
    np.save(vectors, np.random.default_rng(0).normal(size=(len(rows), 384)).astype("float32"))
    return tmp_path, data, vectors


def simulate(data, vectors, out, *extra):
    call_command("simulate", "--data", str(data), "--embeddings", str(vectors), "--out", str(out),
                 "--budget", "10", "--wave-size", "5", "--no-progress", *extra)
