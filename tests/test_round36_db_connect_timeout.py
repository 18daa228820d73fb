"""A database host that answers the TCP handshake and then nothing (a hung server, a firewall that
drops packets mid-way) held a request, and /healthz, with no end: libpq had no connect timeout.
DB_CONNECT_TIMEOUT (5 s by default) bounds the wait; the request then fails as any outage does."""
import socket
import subprocess
import threading
import time

from tests.service_processes import BIN, ROOT, service_env


def test_a_database_that_never_answers_fails_the_connection_within_the_timeout():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()  # accept, say nothing
    port = silent.getsockname()[1]
    env = service_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/nothing", DB_CONNECT_TIMEOUT="2")
    started = time.monotonic()
    try:
        done = subprocess.run([str(BIN / "python"), "manage.py", "shell", "-c",
                               "from django.db import connection; connection.ensure_connection()"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("the connection waited past 30 s for a server that never answers") from None
    finally:
        silent.close()
    took = time.monotonic() - started
    assert done.returncode != 0 and "timeout expired" in done.stderr, done.stderr[-2000:]
    assert took < 20, took  # 2 s of connecting, plus the interpreter's start
