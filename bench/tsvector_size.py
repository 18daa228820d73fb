"""How much of PostgreSQL's search document (tsvector, at most 1,048,575 bytes per text) a text takes
per character, for the kinds of text that set the import's ceiling (labeling.projects.models
MAX_TEXT_CHARS_CEILING) and the length from which pass 1 builds a text's document to check it
(labeling.items.validation.SEARCH_CHECK_FROM_CHARS). Each text is 20,000 characters of distinct
words; the size is pg_column_size of to_tsvector('english', NFKC(text)), the document the items
table builds (migration items 0007) less its accent and invisible-character folding.

    .venv/bin/python bench/tsvector_size.py [--db postgres://postgres@127.0.0.1:5432/test]
"""
import argparse
import json
import platform
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
N = 20_000
SQUARED_KATAKANA = [chr(c) for c in range(0x3300, 0x3358)]  # ㌀..㍗: NFKC unfolds each to several kana


def words(make, joiner: str) -> str:
    out, i = [], 0
    while len(joiner.join(out)) < N:
        out.append(make(i))
        i += 1
    return joiner.join(out)[:N]


def latin(i: int) -> str:
    return "w" + "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in str(i))


def cjk(i: int) -> str:
    return chr(0x4E00 + i % 20_000)


def katakana(i: int) -> str:
    return "".join(SQUARED_KATAKANA[(i // len(SQUARED_KATAKANA) ** k) % len(SQUARED_KATAKANA)] for k in range(3))


KINDS = {
    "latin_distinct_words": words(latin, " "),
    "cjk_one_character_words": words(cjk, " "),
    "squared_katakana_words": words(katakana, " "),
    "squared_katakana_hyphenated": words(lambda i: katakana(i) + "-" + katakana(i + 7), " "),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/test")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "tsvector_size.json"))
    args = ap.parse_args()
    rows = {}
    with psycopg2.connect(args.db) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        for kind, text in KINDS.items():
            cursor.execute("SELECT pg_column_size(to_tsvector('english'::regconfig, normalize(%s, NFKC)))", [text])
            size = cursor.fetchone()[0]
            rows[kind] = {"characters": len(text), "document_bytes": size, "bytes_per_character": round(size / len(text), 2),
                          "characters_that_fit_1MiB": int(1_048_575 / (size / len(text)))}
    out = {"what": __doc__.split("\n\n")[0], "postgresql": version, "python": platform.python_version(), "kinds": rows}
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
