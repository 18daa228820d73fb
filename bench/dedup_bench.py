"""Near-duplicate grouping: precision, recall and time on real texts with planted near-duplicates.

Base texts: every row of ../shared/datasets/*.jsonl (banking77_longtail left out: it is a subset of
banking77), exact duplicates dropped. Planted copies: a random base text with one or two edits
(edited word, casing, punctuation, appended signature, reordered sentences), up to N texts in all,
shuffled. The same grouping code as the importer runs (labeling.items.grouping.group_texts, an
in-memory store instead of the database; bench/import_bench.py measures the database path).

Ground truth, cleaned ("clean" figures): the datasets hold natural near-duplicates of their own
(retweets, "@united thanks!", SMS spam templates), which the planted ground truth would call errors.
Before planting, base texts are clustered by an independent strict criterion, not the algorithm under
test: equal punctuation-free normalized text, or difflib.SequenceMatcher ratio >= 0.9 on normalize_text
forms, checked on every pair that shares an LSH bucket (32 bands x 2 rows over 64 MinHash values, far
looser than the grouping's retrieval; buckets of more than 300 texts are skipped); each
cluster keeps only its first text. The "raw" figures use all base texts, as before.

Pairwise scores: truth = each base with its copies; predicted = same dup group.
  precision = |pred pairs ∩ truth pairs| / |pred pairs|, recall = |∩| / |truth pairs|.
Natural near-duplicates among the base texts count against the raw precision; precision_planted
only counts predicted pairs that involve a planted copy.

    .venv/bin/python bench/dedup_bench.py [--n 100000] [--threshold 0.8]
"""
import argparse
import difflib
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeling.items.dedup import BANDS, ROWS, SHINGLE_CHARS, shingle_hashes, shingle_text, signatures  # noqa: E402
from labeling.items.grouping import UnionFind, group_texts  # noqa: E402
from learner.text import normalize_text, text_hash  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
SKIP = {"banking77_longtail.jsonl"}
SIGNATURES = ["Sent from my iPhone", "Thanks, Sam", "-- Best regards, the Ops team", "Cheers!",
              "Sent from my Galaxy", "Kind regards, J."]
WORDS = ["really", "please", "just", "now", "today", "again", "though", "still", "very", "also"]


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def edit_word(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) < 2:
        return text + " " + rng.choice(WORDS)
    i = rng.randrange(len(words))
    op = rng.choice(["replace", "delete", "insert"])
    if op == "replace":
        words[i] = rng.choice(WORDS)
    elif op == "delete":
        del words[i]
    else:
        words.insert(i, rng.choice(WORDS))
    return " ".join(words)


def casing(text: str, rng: random.Random) -> str:
    return rng.choice([str.upper, str.lower, str.title, str.swapcase])(text)


def punctuation(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:  # drop punctuation that ends a word (URLs and @mentions stay intact)
        return re.sub(r"[.,;:!?'\"()-]+(?=\s|$)", "", text)
    return re.sub(r"\s+", lambda m: rng.choice([" ", ", ", " - ", "  "]), text, count=3) + rng.choice(["!!!", "?", "..."])


def signature(text: str, rng: random.Random) -> str:
    return text + rng.choice(["\n\n", "\n", " "]) + rng.choice(SIGNATURES)


def reorder(text: str, rng: random.Random) -> str:
    parts = [p for p in re.split(r"(?<=[.!?])\s+", text) if p]
    if len(parts) < 2:
        parts = [p for p in re.split(r",\s*", text) if p]
    if len(parts) < 2:
        return casing(text, rng)
    rng.shuffle(parts)
    return " ".join(parts)


EDITS = {"edit_word": edit_word, "casing": casing, "punctuation": punctuation,
         "signature": signature, "reorder": reorder}


def load_bases() -> list[tuple[str, str]]:
    seen, bases = set(), []
    for path in sorted(DATASETS.glob("*.jsonl")):
        if path.name in SKIP:
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["text"]
                h = text_hash(text)
                if text.strip() and h not in seen:
                    seen.add(h)
                    bases.append((path.stem, text))
    return bases


def strictly_near_identical_drop(bases: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """Bases minus all but the first text of each cluster of strictly near-identical texts (see the
    module docstring); returns (kept, number dropped)."""
    texts = [t for _, t in bases]
    norm = [normalize_text(t) for t in texts]
    plain = [shingle_text(t, normalized=True) for t in norm]
    sigs = signatures(shingle_hashes(plain, shingled=True))
    buckets: dict[tuple, list[int]] = {}
    for i, row in enumerate(sigs.reshape(len(texts), 32, 2).tolist()):
        for b, pair in enumerate(row):
            buckets.setdefault((b, *pair), []).append(i)
    uf, checked = UnionFind(), set()
    for members in buckets.values():
        if not 1 < len(members) <= 300:
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if (i, j) in checked or uf.find(i) == uf.find(j):
                    continue
                checked.add((i, j))
                if plain[i] == plain[j]:
                    uf.union(i, j)
                    continue
                m = difflib.SequenceMatcher(None, norm[i], norm[j], autojunk=False)
                if m.real_quick_ratio() >= 0.9 and m.quick_ratio() >= 0.9 and m.ratio() >= 0.9:
                    uf.union(i, j)
    kept = [b for i, b in enumerate(bases) if uf.find(i) == i]
    return kept, len(bases) - len(kept)


def build_rows(bases, n: int, edits: int, rng: random.Random):
    """rows: (text, truth group = base index, dataset, edit kinds or None for a base), shuffled."""
    base_count = min(len(bases), int(n * 0.65))
    bases = bases[:base_count]
    rows = [(text, i, ds, None) for i, (ds, text) in enumerate(bases)]
    while len(rows) < n:
        i = rng.randrange(base_count)
        kinds = rng.sample(sorted(EDITS), edits)
        text = bases[i][1]
        for kind in kinds:
            text = EDITS[kind](text, rng)
        rows.append((text, i, bases[i][0], "+".join(sorted(kinds))))
    rng.shuffle(rows)
    return rows, base_count


def length_bucket(text: str) -> str:
    n = len(text)
    return "<60 chars" if n < 60 else "60-199 chars" if n < 200 else ">=200 chars"


def score(rows, groups) -> dict:
    truth_sizes = Counter(r[1] for r in rows)
    pred_sizes = Counter(groups)
    cell = Counter(zip(groups, (r[1] for r in rows), strict=True))
    tp = sum(pairs(c) for c in cell.values())
    pred_pairs = sum(pairs(c) for c in pred_sizes.values())
    truth_pairs = sum(pairs(c) for c in truth_sizes.values())
    # Predicted pairs with at least one planted copy: all pairs minus base-base pairs (never truth).
    base_cell = Counter(g for g, r in zip(groups, rows, strict=True) if r[3] is None)
    planted_pred_pairs = pred_pairs - sum(pairs(c) for c in base_cell.values())
    # Recall per edit kind, dataset and length of the base text: is the copy in its base's group?
    base_group = {r[1]: g for g, r in zip(groups, rows, strict=True) if r[3] is None}
    base_len = {r[1]: length_bucket(r[0]) for r in rows if r[3] is None}
    tables = {"recall_by_edit": defaultdict(lambda: [0, 0]), "recall_by_dataset": defaultdict(lambda: [0, 0]),
              "recall_by_length": defaultdict(lambda: [0, 0])}
    for g, r in zip(groups, rows, strict=True):
        if r[3] is None:
            continue
        hit = base_group[r[1]] == g
        for name, key in (("recall_by_edit", r[3]), ("recall_by_dataset", r[2]), ("recall_by_length", base_len[r[1]])):
            tables[name][key][0] += hit
            tables[name][key][1] += 1
    # Precision within each dataset (pairs whose two items come from it): the tweets hold many natural
    # near-duplicates (retweets of one tweet, "@airline thanks!") that the ground truth calls errors.
    precision_by_dataset = {}
    for ds in sorted({r[2] for r in rows}):
        sub = [(g, r[1]) for g, r in zip(groups, rows, strict=True) if r[2] == ds]
        sub_pred = sum(pairs(c) for c in Counter(g for g, _ in sub).values())
        sub_tp = sum(pairs(c) for c in Counter(sub).values())
        precision_by_dataset[ds] = round(sub_tp / sub_pred, 4) if sub_pred else None
    largest = [n for _, n in pred_sizes.most_common(5)]
    merged = {g for g, c in base_cell.items() if c > 1}
    examples = defaultdict(list)
    for g, r in zip(groups, rows, strict=True):  # the largest merged groups first
        # Davidson's tweets are left out of the examples: many are slurs, kept out of the repository.
        if r[3] is None and g in merged and r[2] != "davidson_hate" and (g in examples or len(examples) < 8):
            examples[g].append(r[0][:120])
    examples = dict(sorted(examples.items(), key=lambda kv: -len(kv[1])))
    return {
        "precision": round(tp / pred_pairs, 4) if pred_pairs else None,
        "precision_planted": round((tp) / planted_pred_pairs, 4) if planted_pred_pairs else None,
        "recall": round(tp / truth_pairs, 4) if truth_pairs else None,
        "predicted_pairs": pred_pairs, "truth_pairs": truth_pairs, "true_positive_pairs": tp,
        "precision_by_dataset": precision_by_dataset,
        "largest_groups": largest,
        "groups_merging_distinct_base_texts": len(merged),
        **{name: {k: f"{h / t:.4f} of {t}" for k, (h, t) in sorted(table.items())} for name, table in tables.items()},
        "examples_of_merged_base_texts": list(examples.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--edits", type=int, default=1, help="edits per planted copy")
    ap.add_argument("--sweep", type=float, nargs="*", default=[0.85, 0.9])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "dedup_100k.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    all_bases = load_bases()
    rng.shuffle(all_bases)
    pool = all_bases[: int(args.n * 0.65 * 1.3)]  # enough bases left after the clean-up
    t0 = time.perf_counter()
    clean_bases, dropped = strictly_near_identical_drop(pool)
    seconds_clean = time.perf_counter() - t0
    rows, base_count = build_rows(clean_bases, args.n, args.edits, random.Random(args.seed + 1))
    texts = [r[0] for r in rows]

    t0 = time.perf_counter()
    hashes = [text_hash(t) for t in texts]
    t1 = time.perf_counter()
    groups, grouper = group_texts(texts, hashes, threshold=args.threshold)
    t2 = time.perf_counter()
    result = {
        "n_items": len(rows), "base_texts": base_count, "planted_copies": len(rows) - base_count,
        "edits_per_copy": args.edits, "threshold": args.threshold,
        "ground_truth": (f"clean: of {len(pool)} candidate base texts, {dropped} dropped as strictly near-identical "
                         "to an earlier one (equal punctuation-free normalized text or difflib ratio >= 0.9; "
                         f"{seconds_clean:.1f} s); raw figures below use all base texts"),
        "shingles": f"char {SHINGLE_CHARS}-grams of normalize_text, punctuation dropped",
        "minhash": {"bands": BANDS, "rows": ROWS, "num_perm": BANDS * ROWS,
                    "verify": "max(char-4gram Jaccard, word edit similarity, 1 if equal once a recurring trailing span is stripped), against the group representative"},
        "seconds_text_hash": round(t1 - t0, 2), "seconds_grouping": round(t2 - t1, 2),
        "seconds_total": round(t2 - t0, 2), "candidates_checked": grouper.candidates_checked,
        **score(rows, groups),
        "threshold_sweep": {},
    }
    raw_rows, _ = build_rows(pool, args.n, args.edits, random.Random(args.seed + 1))
    raw_texts = [r[0] for r in raw_rows]
    raw_groups, _ = group_texts(raw_texts, [text_hash(t) for t in raw_texts], threshold=args.threshold)
    raw = score(raw_rows, raw_groups)
    result["raw_ground_truth"] = {k: raw[k] for k in ("precision", "precision_planted", "recall", "precision_by_dataset",
                                                      "recall_by_edit", "recall_by_length", "largest_groups",
                                                      "groups_merging_distinct_base_texts")}
    for threshold in args.sweep:
        if threshold != args.threshold:
            other, _ = group_texts(texts, hashes, threshold=threshold)
            scores = score(rows, other)
            result["threshold_sweep"][str(threshold)] = {
                k: scores[k] for k in ("precision", "precision_planted", "precision_by_dataset", "recall",
                                       "recall_by_edit", "recall_by_length", "largest_groups")
            }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "examples_of_merged_base_texts"}, indent=2))


if __name__ == "__main__":
    main()
