"""How long publishing a task takes to fail when Redis is unreachable (REDIS_URL at a closed port),
with Celery's defaults (publish retries, the result store's 20 reconnect attempts) and with the
product's settings (config/settings.py: LONGTAIL_BROKER_TIMEOUT_SECONDS, no publish retry, two
quick result-store retries). The web process pays this on every enqueue while the broker is down.

Usage: python bench/broker_down_bench.py  → bench/results/broker_down.json
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "broker_down.json"
DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1
TRIES = 3

PROBE = r"""
import json, os, sys, time
import django
django.setup()
from celery import current_app
from labeling.loop import tasks
if sys.argv[1] == "celery-defaults":
    conf = current_app.conf
    conf.task_publish_retry = True
    conf.broker_connection_timeout = 4.0
    conf.broker_transport_options = {}
    conf.result_backend_transport_options = {}
    conf.redis_socket_connect_timeout = None
    conf.redis_socket_timeout = None
out = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    try:
        tasks.run_retrain.apply_async(args=[0])
        error = None
    except Exception as exc:
        error = type(exc).__name__
    out.append({"seconds": round(time.perf_counter() - t, 3), "error": error})
print(json.dumps(out))
"""


def probe(mode: str) -> list[dict]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": DOWN, "HF_HUB_OFFLINE": "1",
           "CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "CRITICAL"}
    done = subprocess.run([sys.executable, "-c", PROBE, mode, str(TRIES)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    result = {
        "what": "seconds until apply_async gives up with Redis unreachable (connection refused), per call",
        "celery_defaults": probe("celery-defaults"),
        "product_settings": probe("product"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions (loaded)",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
