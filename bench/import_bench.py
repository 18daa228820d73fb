"""Import 100,000 rows into PostgreSQL through the real importer (validation, dedup, one transaction).

Rows: real texts from ../shared/datasets with planted near-duplicates (as in bench/dedup_bench.py),
written to a JSONL file with source, external_id and a metadata column. The benchmark creates a
scratch database (default `longtail_bench` on the local server), migrates it, imports, records the
time of each pass, and drops the database unless --keep is given.

    nice .venv/bin/python bench/import_bench.py [--n 100000] [--db postgres://postgres@127.0.0.1:5432/longtail_import_bench]
"""
import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from scratch_db import drop_database, recreate_database  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def make_rows(n: int, seed: int = 0):
    import dedup_bench

    rng = random.Random(seed)
    bases = dedup_bench.load_bases()
    rng.shuffle(bases)
    bases = bases[: int(n * 0.65)]
    rows = [(ds, text) for ds, text in bases]
    while len(rows) < n:
        ds, text = rng.choice(bases)
        rows.append((ds, dedup_bench.EDITS[rng.choice(sorted(dedup_bench.EDITS))](text, rng)))
    rng.shuffle(rows)
    for i, (ds, text) in enumerate(rows):
        yield {"text": text, "source": ds, "external_id": f"B{i:07d}", "batch_note": rng.choice(["a", "b", "c"])}


def backend_cpu(pid: int) -> float | None:
    """user + system CPU seconds of a local process (the PostgreSQL backend), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")






def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/longtail_import_bench")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "import_100k.json"))
    args = ap.parse_args()

    recreate_database(args.db)
    os.environ["DATABASE_URL"] = args.db
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from labeling.items.models import Item, ItemLsh
    from labeling.items.services import import_path
    from labeling.projects.models import Project, Source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for row in make_rows(args.n):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        project = Project.objects.create(slug="bench", name="Bench")
        for name in ("airline_tweets", "banking77", "davidson_hate", "sms_spam", "trec"):
            Source.objects.create(project=project, name=name, quota=0.2)
        marks = {}

        def progress(phase, fraction, counts):
            marks.setdefault(phase, time.perf_counter())

        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        pg0, cpu0 = backend_cpu(backend), time.process_time()
        t0 = time.perf_counter()
        result = import_path(project, path, progress=progress)
        t1 = time.perf_counter()
        pg1, cpu1 = backend_cpu(backend), time.process_time()
        size = path.stat().st_size
    assert result.ok, [e.format("bench.jsonl") for e in result.errors[:5]]
    validate_s = (marks.get("write", t1) - t0)
    out = {
        "rows": args.n, "file_bytes": size, "database": "PostgreSQL",
        "seconds_total": round(t1 - t0, 2), "seconds_validate_pass": round(validate_s, 2),
        "seconds_write_pass": round(t1 - t0 - validate_s, 2),
        "rows_per_second": round(args.n / (t1 - t0)),
        # Wall time depends on what else runs on the machine; CPU time of the importer process plus
        # its PostgreSQL backend does much less (the progress connection's backend is not counted).
        "cpu_seconds_python": round(cpu1 - cpu0, 2), "cpu_seconds_postgres_backend": round(pg1 - pg0, 2)
        if pg0 is not None and pg1 is not None else None,
        "items_in_db": Item.objects.filter(project=project).count(),
        "lsh_rows": ItemLsh.objects.filter(project=project).count(),
        "groups": Item.objects.filter(project=project).values("dup_group").distinct().count(),
        "exact_duplicates": result.exact_duplicates, "near_duplicates": result.near_duplicates,
        "note": "first pass = streaming validation; second = write in 5,000-row chunks with MinHash/LSH "
                "grouping, one transaction. Time includes the progress writes.",
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(), "python": platform.python_version()},
    }
    from django.db import connections

    connections.close_all()
    if not args.keep:
        drop_database(args.db)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
