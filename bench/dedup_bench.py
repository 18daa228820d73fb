"""Near-duplicate grouping: precision, recall and time on real texts with planted near-duplicates.

Base texts: every row of ../shared/datasets/*.jsonl (banking77_longtail left out: it is a subset of
banking77), exact duplicates dropped. Planted copies: a random base text with one or two edits
(edited word, casing, punctuation, appended signature, reordered sentences), up to N texts in all,
shuffled. The same grouping code as the importer runs (labeling.items.dedup.group_texts, an
in-memory store instead of the database; bench/import_bench.py measures the database path).

Pairwise scores: truth = each base with its copies; predicted = same dup group.
  precision = |pred pairs ∩ truth pairs| / |pred pairs|, recall = |∩| / |truth pairs|.
Natural near-duplicates among the base texts count against the raw precision; precision_planted
only counts predicted pairs that involve a planted copy.

    .venv/bin/python bench/dedup_bench.py [--n 100000] [--threshold 0.8]
"""
import argparse
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeling.items.dedup import BANDS, ROWS, SHINGLE_CHARS, group_texts  # noqa: E402
from labeling.items.normalize import text_hash  # noqa: E402

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
    ap.add_argument("--sweep", type=float, nargs="*", default=[0.7, 0.6])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "dedup_100k.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bases = load_bases()
    base_count = min(len(bases), int(args.n * 0.65))
    rng.shuffle(bases)
    bases = bases[:base_count]
    # rows: (text, truth group = base index, dataset, edit kinds or None for a base)
    rows = [(text, i, ds, None) for i, (ds, text) in enumerate(bases)]
    while len(rows) < args.n:
        i = rng.randrange(base_count)
        kinds = rng.sample(sorted(EDITS), args.edits)
        text = bases[i][1]
        for kind in kinds:
            text = EDITS[kind](text, rng)
        rows.append((text, i, bases[i][0], "+".join(sorted(kinds))))
    rng.shuffle(rows)
    texts = [r[0] for r in rows]

    t0 = time.perf_counter()
    hashes = [text_hash(t) for t in texts]
    t1 = time.perf_counter()
    groups, grouper = group_texts(texts, hashes, threshold=args.threshold)
    t2 = time.perf_counter()
    result = {
        "n_items": len(rows), "base_texts": base_count, "planted_copies": len(rows) - base_count,
        "edits_per_copy": args.edits, "threshold": args.threshold,
        "shingles": f"char {SHINGLE_CHARS}-grams of normalize_text, punctuation dropped",
        "minhash": {"bands": BANDS, "rows": ROWS, "num_perm": BANDS * ROWS, "verify": "exact Jaccard"},
        "seconds_text_hash": round(t1 - t0, 2), "seconds_grouping": round(t2 - t1, 2),
        "seconds_total": round(t2 - t0, 2), "candidates_checked": grouper.candidates_checked,
        **score(rows, groups),
        "threshold_sweep": {},
    }
    for threshold in args.sweep:
        if threshold != args.threshold:
            other, _ = group_texts(texts, hashes, threshold=threshold)
            scores = score(rows, other)
            result["threshold_sweep"][str(threshold)] = {
                k: scores[k] for k in ("precision", "precision_planted", "precision_by_dataset", "recall",
                                       "recall_by_edit", "recall_by_length")
            }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "examples_of_merged_base_texts"}, indent=2))


if __name__ == "__main__":
    main()
