"""The first predict a fresh gunicorn worker answers, before and after the warm-up in
config/gunicorn.conf.py (post_worker_init loads the encoder and the active models once per worker).

"before": gunicorn started as the image used to start it (no config file): the worker loads the
encoder (and runs the encoder backend's check) inside the first predict request.
"after": gunicorn -c config/gunicorn.conf.py: the worker warms up before it takes requests.
Each mode starts a fresh one-worker gunicorn, waits until the worker serves (a sign-in page
answers; in "after" the warm-up has logged), then times the first and the second predict of texts
never seen (so they must be encoded). Modes alternate, BENCH_REPEATS times each.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/longtail_first_predict python bench/first_predict_bench.py
(the database is dropped and recreated). Writes bench/results/first_predict.json.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import requests
from scratch_db import recreate_database  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/longtail_first_predict"
REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
OUT = ROOT / "bench" / "results" / "first_predict.json"
DIM = 384


def setup(url: str) -> str:
    """Migrate, build a project with an active model; returns a lead's API token."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from labeling.annotations.models import Annotation
    from labeling.items.models import Item
    from labeling.modeling import versions
    from labeling.modeling.models import Embedding
    from labeling.projects.models import Label, Membership, Project, Source
    from learner.text import text_hash

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(0)
    project = Project.objects.create(slug="predict", name="Predict")
    labels = [Label.objects.create(project=project, name=name, order=k)
              for k, name in enumerate(["billing", "login", "fraud"])]
    Source.objects.create(project=project, name="email", quota=1.0)
    centroids = rng.normal(size=(3, DIM)).astype(np.float32)
    items, vectors, truth = [], [], []
    for i in range(300):
        k = int(rng.integers(3))
        text = f"{labels[k].name} ticket {chr(97 + i // 26 % 26)}{chr(97 + i % 26)}{chr(97 + i // 676)}"
        items.append(Item(project=project, text=text, text_hash=text_hash(text)))
        v = centroids[k] + rng.normal(size=DIM).astype(np.float32)
        vectors.append(v / np.linalg.norm(v))
        truth.append(k)
    Item.objects.bulk_create(items)
    items = list(Item.objects.filter(project=project).order_by("id"))
    Embedding.objects.bulk_create([
        Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=it.text_hash, vector=v.astype(np.float32).tobytes())
        for it, v in zip(items, vectors, strict=True)], ignore_conflicts=True)
    Annotation.objects.bulk_create([Annotation(project=project, item=it, label=labels[truth[i]],
                                               origin=Annotation.IMPORT) for i, it in enumerate(items[:90])])
    versions.activate_version(versions.train_version(project))
    lead = get_user_model().objects.create_user("lead", "lead@example.org", "bench-Longtail-1")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    return Token.objects.create(user=lead).key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_mode(mode: str, token: str, log_path: Path) -> dict:
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "CELERY_TASK_ALWAYS_EAGER": "1", "HF_HUB_OFFLINE": "1",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "LOG_LEVEL": "INFO"}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    if mode == "before":
        cmd = [gunicorn, "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "--timeout", "120"]
    else:
        cmd = [gunicorn, "config.wsgi:application", "-c", "config/gunicorn.conf.py"]
    log_path.write_text("")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log_path, "a"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if mode == "after" and "warmed up in" not in log_path.read_text():
                time.sleep(0.2)
                continue
            try:
                if requests.get(f"{base}/accounts/login/", timeout=60).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{mode}: gunicorn never served; log:\n{log_path.read_text()[-2000:]}")
        ready_s = time.perf_counter() - started
        timings = []
        for _ in range(2):
            text = f"my card was charged twice, reference {uuid.uuid4().hex}"
            t = time.perf_counter()
            r = requests.post(f"{base}/api/projects/predict/predict/", json={"texts": [text]},
                              headers={"Authorization": f"Token {token}"}, timeout=300)
            timings.append(round(time.perf_counter() - t, 3))
            if r.status_code != 200:
                raise RuntimeError(f"{mode}: predict answered {r.status_code}: {r.text[:500]}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"mode": mode, "start_to_ready_s": round(ready_s, 3), "first_predict_s": timings[0],
            "second_predict_s": timings[1]}


def main() -> None:
    url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    recreate_database(url)
    token = setup(url)
    log_path = ROOT / "var" / "first_predict_gunicorn.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    for _ in range(REPEATS):
        for mode in ("before", "after"):
            runs.append(run_mode(mode, token, log_path))
            print(runs[-1], flush=True)
    summary = {mode: {key: statistics.median(r[key] for r in runs if r["mode"] == mode)
                      for key in ("start_to_ready_s", "first_predict_s", "second_predict_s")}
               for mode in ("before", "after")}
    from django.conf import settings

    result = {
        "what": "first and second POST /api/projects/<slug>/predict/ of one unseen text on a fresh one-worker "
                "gunicorn, before (no config: the encoder loads inside the first predict) and after "
                "(config/gunicorn.conf.py: post_worker_init warms the encoder and active models)",
        "median": summary,
        "runs": runs,
        "encoder_backend": settings.LONGTAIL_ENCODER_BACKEND,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions (loaded): wall "
                   "times include waiting for a core",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
