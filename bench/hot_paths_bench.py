"""The annotator's hot paths (lease a batch, renew it, submit an answer) in one process, side by
side with an earlier commit: what each call costs the web process and the database, without the
client threads, the queue for a gunicorn worker or the loop's retrains that bench/load.py adds.

For each side (this checkout, and ``--ref``'s code in a temporary git worktree) the load
benchmark's project (6,000 items, 50 annotators, a 400-item wave, overlap 2 on 10 %) is built
once into a template database; every round copies the template and lets 40 annotators each
lease 5 items, renew and answer them, twice, through Django's test client with persistent
database connections, as gunicorn runs it. Rounds alternate between the sides, so whatever else
the machine does falls on both alike; the figure is the ratio of the medians.

    python bench/hot_paths_bench.py [--ref 55aaec8] [--rounds 3]

Writes bench/results/hot_paths.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "hot_paths.json"
ADMIN = "postgres://postgres@127.0.0.1:5432"

# One round in a fresh interpreter: Django is set up against a copy of the template database.
ROUND = r'''
import json, os, statistics, sys, time, uuid
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

tokens = json.load(open(sys.argv[1]))
client, label = Client(), tokens["labels"][0]
wall, cpu, queries = {}, {}, {}

def call(kind, url, body, key):
    with CaptureQueriesContext(connection) as captured:
        t, c = time.perf_counter(), time.process_time()
        response = client.post(url, data=json.dumps(body), content_type="application/json",
                               HTTP_AUTHORIZATION=f"Token {key}")
        wall.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
        cpu.setdefault(kind, []).append((time.process_time() - c) * 1000)
    queries.setdefault(kind, []).append(len(captured.captured_queries))
    assert response.status_code < 300, (kind, response.status_code, response.content[:300])
    return response

for _ in range(2):
    for key in tokens["annotators"][:40]:
        items = call("lease", "/api/projects/load/batches/", {}, key).json()["items"]
        call("renew", "/api/projects/load/batches/renew/", {}, key)
        for item in items:
            call("submit", "/api/projects/load/annotations/",
                 {"client_id": str(uuid.uuid4()), "assignment": item["assignment"], "label": label}, key)
print(json.dumps({kind: {"wall_ms": statistics.median(wall[kind][2:]), "cpu_ms": statistics.median(cpu[kind][2:]),
                         "queries": statistics.median(queries[kind]), "n": len(wall[kind])} for kind in wall}))
'''


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{ADMIN}/postgres", "-q", "-c", sql], check=True, stdout=subprocess.DEVNULL)


def env_for(db: str, var: Path) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": f"{ADMIN}/{db}", "REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": "1", "DEBUG": "0",
                "SECRET_KEY": "hot-paths-bench-" + "x" * 40, "ALLOWED_HOSTS": "*", "SECURE_SSL_REDIRECT": "0",
                "DJANGO_SETTINGS_MODULE": "config.settings", "HF_HUB_OFFLINE": "1", "LONGTAIL_LEASE_SECONDS": "300",
                "DB_CONN_MAX_AGE": "60", "LONGTAIL_VAR_DIR": str(var), "LOG_LEVEL": "WARNING"})
    return env


def build_template(code: Path, name: str, var: Path) -> Path:
    """The load benchmark's project, built by ``code``'s own migrations and setup."""
    var.mkdir(parents=True, exist_ok=True)
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')
    env = env_for(name, var)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=code, env=env, check=True)
    tokens = var / "tokens.json"
    # The setup of this checkout's load benchmark, run inside ``code`` (its models, its planner).
    subprocess.run([sys.executable, "-c", "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import load; "
                    "from pathlib import Path; load.setup(Path(sys.argv[3]), 6000, 50, 400)",
                    str(code), str(ROOT / "bench"), str(tokens)], cwd=code, env=env, check=True)
    return tokens


def run_round(code: Path, template: str, var: Path, tokens: Path) -> dict:
    copy = template + "_run"
    psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
    out = subprocess.run([sys.executable, "-c", ROUND, str(tokens)], cwd=code, env=env_for(copy, var),
                         check=True, capture_output=True, text=True)
    psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default="55aaec8", help="the earlier commit to compare with (default: before this work)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    ref = subprocess.run(["git", "rev-parse", "--short", args.ref], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hot-paths-") as tmp:
        tmp = Path(tmp)
        old = tmp / "ref"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), ref], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            sides = {"now": (ROOT, "hot_paths_now"), "ref": (old, "hot_paths_ref")}
            tokens = {side: build_template(code, db, tmp / side) for side, (code, db) in sides.items()}
            rounds: dict[str, list[dict]] = {"now": [], "ref": []}
            for _ in range(args.rounds):
                for side, (code, db) in sides.items():
                    rounds[side].append(run_round(code, db, tmp / side, tokens[side]))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
            for _, db in (("now", "hot_paths_now"), ("ref", "hot_paths_ref")):
                psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def summary(side):
        return {kind: {measure: round(statistics.median(r[kind][measure] for r in rounds[side]), 2)
                       for measure in ("wall_ms", "cpu_ms", "queries")} for kind in ("lease", "renew", "submit")}

    now, before = summary("now"), summary("ref")
    result = {
        "what": "lease 5 / renew / submit through Django's test client, in one process, persistent connections; "
                "medians of per-round medians (40 annotators x 2 batches per round); rounds alternate between "
                "this checkout and the reference commit",
        "reference_commit": ref,
        "rounds": args.rounds,
        "now": now,
        "reference": before,
        "ratio_now_to_reference": {kind: {m: round(now[kind][m] / before[kind][m], 3) for m in ("wall_ms", "cpu_ms")}
                                   for kind in now},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1_5_15_before": [round(x, 1) for x in load_before],
                    "load_average_1_5_15_after": [round(x, 1) for x in os.getloadavg()]},
        "per_round": rounds,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("now", "reference", "ratio_now_to_reference")}, indent=1))


if __name__ == "__main__":
    main()
