"""gunicorn settings for the web service: `gunicorn -c config/gunicorn.conf.py config.wsgi:application`
(the Dockerfile and docker-compose.yml run it so). Environment: GUNICORN_BIND, GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_TIMEOUT, LONGTAIL_WARM_ENCODER (docs/operations.md).

Workers are threaded ("gthread"): each worker's main thread sends its heartbeat to the master
while request threads work, so GUNICORN_TIMEOUT only catches a worker process that stopped
altogether. With sync workers the heartbeat waited for the request: an export streamed for longer
than the timeout was cut off at a row boundary (HTTP 200, a file that looked complete) and an
upload that took longer to arrive answered 500. The app's per-process state is thread-safe: the
memos of classifiers, encoders, fine-tuned encoders, embeddings and pools each take a lock, the
encoder loads under its own lock, and Django gives each thread its own database connection (so a
worker holds up to GUNICORN_THREADS of them).

Each worker warms up once after it loads the app and before it takes requests: the encoder (its
backend check included) and the active models' classifiers, so no annotator's or API client's
first predict waits for them. The app is not preloaded in the master: torch's thread pools do not
survive fork, so every worker loads its own encoder. A refused setting, here or in the Django
settings a worker loads (config/wsgi.py), stops gunicorn with its one-line message, no traceback.
"""
import subprocess
import sys
import time

# gunicorn puts its working folder (the repository root) on sys.path before it reads this file.
from config.env import env_bool, env_int, env_str, setting_errors_end_the_process

# A refused value stops gunicorn with its one line (gunicorn would print a traceback around it).
with setting_errors_end_the_process():
    bind = env_str("GUNICORN_BIND", "0.0.0.0:8000")
    workers = env_int("GUNICORN_WORKERS", 3, minimum=1)
    worker_class = "gthread"
    threads = env_int("GUNICORN_THREADS", 4, minimum=1)
    # 0 turns gunicorn's timeouts off.
    timeout = env_int("GUNICORN_TIMEOUT", 120, minimum=0)
    graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=0)
    preload_app = False
    WARM = env_bool("LONGTAIL_WARM_ENCODER", True)


# What a worker's first step does (config/wsgi.py): read the Django settings; a refused one ends it
# with its one line.
_LOAD_SETTINGS = ("from config.env import setting_errors_end_the_process\n"
                  "with setting_errors_end_the_process():\n"
                  "    import config.settings\n")


def on_starting(server):
    """Before any worker forks, load the Django settings once in a child process (the master does
    not load the app): a refused setting stops gunicorn here with its one line (exit status 1).
    Otherwise every worker fails on it at once, and gunicorn's master, halting on the first
    failure, meets the next one and prints a traceback of its own."""
    if subprocess.run([sys.executable, "-c", _LOAD_SETTINGS], check=False).returncode != 0:
        raise SystemExit(1)


def post_worker_init(worker):
    if not WARM:
        return
    started = time.perf_counter()
    try:
        # The worker has loaded config.wsgi (the app) by now; its warm_up needs Django set up.
        timings = sys.modules["config.wsgi"].warm_up()
    except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first request
        worker.log.exception("warm-up failed; the first predict will load the encoder")
        return
    worker.log.info("worker %s warmed up in %.2f s %s", worker.pid, time.perf_counter() - started, timings)
