"""Process start-up: what a web process, a Celery worker and a management command pay before their
first request or task, in this checkout and in an earlier commit, side by side.

The test suite starts well over a hundred such processes (workers, gunicorn, manage.py), and a
deployment starts one per web worker and per Celery child, so start-up is CPU time paid again and
again. Measured per run: wall time and the CPU time (user + system) of the child process, for
- ``manage.py check`` (settings, apps, URLconf and admin: a web process's start);
- the worker's imports (``django.setup()``, then the Celery app's task modules);
and which heavy numeric libraries (scikit-learn, scipy.stats, cleanlab, pandas, torch, ...) start-up
loaded. Runs alternate between the two trees, so a change in the machine's load meets both.

Usage: python bench/startup_bench.py [--base b058c1d] [--runs 5]
(needs a PostgreSQL to point DATABASE_URL at: check and setup open no connection but read the URL).
Writes bench/results/startup.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "scipy.stats", "scipy.optimize", "cleanlab", "pandas", "pyarrow", "datasets", "datasketch",
         "torch", "sentence_transformers")
WORKER = ("import json, sys, django; django.setup(); from config.celery import app; "
          "app.loader.import_default_modules(); "
          f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
CASES = {"manage.py check": ["manage.py", "check"], "worker imports": ["-c", WORKER]}


def run_once(tree: Path, args: list[str]) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    loaded = json.loads(done.stdout.strip().splitlines()[-1]) if args[0] == "-c" else None
    return {"wall_s": wall, "cpu_s": cpu, "heavy_loaded": loaded}


def summary(rows: list[dict]) -> dict:
    return {"runs": len(rows), "wall_s_median": round(statistics.median(r["wall_s"] for r in rows), 3),
            "cpu_s_median": round(statistics.median(r["cpu_s"] for r in rows), 3),
            "cpu_s_all": [round(r["cpu_s"], 3) for r in rows],
            "heavy_loaded": rows[0]["heavy_loaded"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="b058c1d", help="the earlier commit to compare with")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), args.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            results = {}
            for name, argv in CASES.items():
                rows = {"base": [], "head": []}
                run_once(ROOT, argv)  # warm the file cache for both trees before timing
                run_once(base_tree, argv)
                for _ in range(args.runs):
                    rows["base"].append(run_once(base_tree, argv))
                    rows["head"].append(run_once(ROOT, argv))
                base, head = summary(rows["base"]), summary(rows["head"])
                results[name] = {"base": base, "head": head,
                                 "cpu_ratio_head_to_base": round(head["cpu_s_median"] / base["cpu_s_median"], 3),
                                 "wall_ratio_head_to_base": round(head["wall_s_median"] / base["wall_s_median"], 3)}
                print(f"{name}: CPU {base['cpu_s_median']:.2f} s -> {head['cpu_s_median']:.2f} s, "
                      f"wall {base['wall_s_median']:.2f} s -> {head['wall_s_median']:.2f} s")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, capture_output=True)
    head_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    out = {"what": "process start-up, median of alternating runs (this checkout vs --base)",
           "base": args.base, "head": head_rev, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "load_average_at_end": os.getloadavg(), "cases": results}
    path = ROOT / "bench" / "results" / "startup.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
