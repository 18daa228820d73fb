"""Real processes for the fault tests: Celery workers and a gunicorn web server against pytest's
PostgreSQL test database (a second process cannot share pytest's SQLite database). Holds no tests."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def require_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://… (a second process cannot share pytest's SQLite database)")


def require_redis():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set: this test needs a Redis broker (set in CI)")


def fresh_broker() -> None:
    """Empty the test Redis database: messages an earlier session left (for TaskRun ids that a
    recreated test database hands out again) must not reach this test's worker."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER'] or 'postgres'}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def service_env(**extra) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url(), "DB_CONN_MAX_AGE": "0", "HF_HUB_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(log_path: Path, *, queues="default,embed,train", pool="solo", **env) -> subprocess.Popen:
    """A one-process Celery worker (no gossip or mingle: it starts in a few seconds); the solo
    pool has no time limits, ``pool="prefork"`` enforces them."""
    name = f"faulttest-{uuid.uuid4().hex[:8]}@%h"
    log = open(log_path, "a")
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "-Q", queues, "-P", pool, "-c", "1", "-l", "info",
         "-n", name, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=service_env(CELERY_TASK_ALWAYS_EAGER="0", **env), stdout=log, stderr=subprocess.STDOUT,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(log_path: Path, port: int, **env) -> subprocess.Popen:
    """gunicorn (one worker) on loopback; returns once it answers."""
    log = open(log_path, "a")
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--timeout", "120"],
        cwd=ROOT, env=service_env(**env), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    pytest.fail(f"gunicorn did not start; log:\n{log_path.read_text()[-3000:]}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def wait_for_run(run, procs, logs, *, states=("done", "failed"), timeout: float = 240):
    """Poll a TaskRun until its state is one of ``states`` and return it; fail with the workers'
    log tails when the time runs out or a worker process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state in states:
            return run
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.3)
    tails = "\n".join(Path(path).read_text()[-3000:] for path in logs)
    pytest.fail(f"task {run.pk} ({run.kind}) is {run.state} ({run.message!r}) after waiting; worker logs:\n{tails}")


def run_to_done_with_worker(run, log_path: Path, *, timeout: float = 150, **env) -> str:
    """Start a worker (``env`` its settings), wait for ``run`` to end, require it done, stop the
    worker; returns the worker's log."""
    worker = start_worker(log_path, **env)
    try:
        wait_for_run(run, [worker], [log_path], timeout=timeout)
        assert run.state == "done", (run.state, run.message, Path(log_path).read_text()[-3000:])
    finally:
        stop(worker)
    return Path(log_path).read_text()



class OwnRedis:
    """A redis-server without persistence on a port of its own, for tests that stop it, or empty it
    (restart_empty: a restart without persistence), without touching the shared one."""

    def __init__(self, folder: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.port, self.folder, self.proc = free_port(), folder, None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        pytest.fail("redis-server did not start")

    def restart_empty(self):
        self.stop()
        self.start()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"
