"""Write one banking77 sibling set (``bench/sim_siblings.py``: a long-tailed pool and a balanced dev
set, both from banking77's **train** split only) as a JSONL file (``split`` "train" for the pool,
"test" for the dev set) with its row-aligned embeddings, so that tools reading a data file
(``manage.py simulate``, ``bench/final_model_recipes.py --data-file``) can tune on it without
reading any test split.

    python bench/sibling_file.py --sibling 100 --out /tmp/siblings
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from sim_siblings import sibling_dataset  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sibling", type=int, default=100)
    parser.add_argument("--dev-per-class", type=int, default=20)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data, emb = sibling_dataset(args.sibling, args.dev_per_class)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"banking77_sibling{args.sibling}"
    with (args.out / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
        for text, label, dev in zip(data.texts, data.labels, data.is_test, strict=True):
            fh.write(json.dumps({"text": text, "label": str(label), "split": "test" if dev else "train"}) + "\n")
    np.save(args.out / f"{name}.npy", emb)
    pool, dev = int((~data.is_test).sum()), int(data.is_test.sum())
    print(f"{name}: pool {pool}, dev {dev} -> {args.out}")


if __name__ == "__main__":
    main()
