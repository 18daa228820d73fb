"""What a backend is measured against before its vectors may share a cache key with torch fp32.

The texts are fixed and built in (nothing is read at run time): short and long, casing, digits,
punctuation, accents, emoji, CJK, an empty string and one longer than the 256-token window, so the
tokeniser, truncation and padding paths are all exercised."""
from __future__ import annotations

import numpy as np

# Largest cosine distance (1 - cos) between a backend's vectors and torch fp32's on CHECK_TEXTS for
# the two to share one model id in the embedding caches. ONNX fp32 measured 2e-7 and torch fp16 on
# CPU 1e-6 (bench/results/encode.json); int8 (1e-4 to 3e-2) never shares.
SHARED_ID_MAX_COSINE_DISTANCE = 1e-5

# A quantised model whose mean distance is above this is broken, not merely lossy; it is refused.
QUANTISED_MAX_MEAN_COSINE_DISTANCE = 1e-2

CHECK_TEXTS = [
    "My card was charged twice for the same purchase",
    "where is my refund??",
    "I CAN'T LOG IN TO THE APP SINCE THE UPDATE",
    "How do I change the PIN on card 4421?",
    "What is the exchange rate for EUR to GBP today, and is there a fee?",
    "Why was my top-up of $250.00 declined at 3:15 pm?",
    "@united thanks for losing my bag again #neveragain",
    "Who wrote the novel 'War and Peace'?",
    "What does CPR stand for ?",
    "Café crème brûlée à la carte, s'il vous plaît",
    "Müller's Straße is 3 km from the Zürich Hauptbahnhof",
    "東京で一番高いビルはどれですか",
    "great service 🙂🙂 will use again!!!",
    "",
    "   padded with spaces   ",
    "ok",
    "\ttabs\tand\nnew lines\n",
    "A virtual card was added to my account but I never asked for one, please remove it immediately "
    "and tell me whether anyone else has access to my details, because this looks like fraud to me.",
    " ".join(["the transfer to my savings account has been pending for days"] * 40),  # > 256 tokens
    "Is it possible to get a physical card delivered to an address in another country, and how long "
    "does that usually take? I am moving abroad next month and want to keep using the same account.",
]


def cosine_distances(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """1 - cos per row between two (n, d) arrays (rows need not be unit length)."""
    reference = np.asarray(reference, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if reference.shape != other.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {other.shape}")
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(other, axis=1)
    return 1.0 - (reference * other).sum(axis=1) / np.where(norms > 0, norms, 1.0)


def distance_summary(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    distances = cosine_distances(reference, other)
    return {"mean_cosine_distance": float(distances.mean()), "max_cosine_distance": float(distances.max()),
            "texts": int(len(distances))}


def speed_texts(count: int = 64) -> list[str]:
    """``count`` texts of everyday length (under ~200 characters, like the datasets'),
    built from CHECK_TEXTS, for a quick side-by-side speed check that reads no dataset."""
    base = [t.strip() for t in CHECK_TEXTS if 0 < len(t.strip()) <= 120]
    texts = []
    for i in range(count):
        first, second = base[i % len(base)], base[(i * 7 + 3) % len(base)]
        texts.append(first if i < len(base) else f"{first} {second[: 10 + (i * 13) % 70]}")
    return texts
