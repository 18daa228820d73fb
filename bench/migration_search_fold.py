"""What items migration 0011 (the search columns rebuilt to fold ς as σ and ß as ss) costs on a table
of 100,000 items: `manage.py migrate items 0011` forward and back (0010) timed on a scratch
PostgreSQL database that this script drops and recreates. The rows are tickets of about 130
characters with Greek, German, accented and Japanese words among them, written by one SQL insert
(the importer's own cost is not what is measured). The table is locked for the whole run: the figure
is how long imports and reads wait during the upgrade.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_fold .venv/bin/python bench/migration_search_fold.py
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch_db import recreate_database  # noqa: E402

FILL = """
INSERT INTO items_item (external_id, text, text_hash, metadata, created_at, project_id, excluded, pinned_for_next_wave)
SELECT NULL,
  'Ticket ' || g || ': my ' || (ARRAY['card','account','Straße','ΚΟΣΜΟΣ','café','返金','refund','password'])[1 + g %% 8]
  || ' was charged twice, please help ' || md5(g::text) || ' ' || md5((g*7)::text) || ' thanks, regards',
  md5(g::text), '{}'::jsonb, now(), %s, false, false
FROM generate_series(1, %s) g
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "migration_search_fold.json"))
    args = ap.parse_args()
    url = os.environ["DATABASE_URL"]
    recreate_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from labeling.projects.models import Project

    call_command("migrate", verbosity=0)
    call_command("migrate", "items", "0010", verbosity=0)
    project = Project.objects.create(slug="fold", name="fold")
    with connection.cursor() as cursor:
        cursor.execute(FILL, [project.pk, args.items])
        cursor.execute("ANALYZE items_item")
    timings = {}
    for step, target in (("forward", "0011"), ("back", "0010"), ("forward_again", "0011")):
        started = time.perf_counter()
        call_command("migrate", "items", target, verbosity=0)
        timings[step] = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM items_item WHERE search_text LIKE %s", ["%strasse%"])
        folded = cursor.fetchone()[0]
    load = os.getloadavg()[0]
    result = {"what": "items migration 0011 (search columns folding ς and ß) on a table of items, seconds, "
                      "the migrate command's own start-up excluded (run in-process)",
              "items": args.items, "seconds": timings, "rows_with_folded_strasse": folded,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end"}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
