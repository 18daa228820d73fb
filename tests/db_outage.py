"""A real outage for the outage tests, without stopping the shared PostgreSQL or Redis: a TCP proxy
(threads) in front of one of them, on a port of its own. Point a process (a worker, gunicorn) at
the proxy's port; ``cut()`` closes every connection through it and refuses new ones (its listening
socket is closed: a connect gets "Connection refused", as from a stopped server), ``restore()``
listens again on the same port. Holds no tests."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from labeling.items.models import ImportBatch
from labeling.items.services import upload_dir


class OutageProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = False
        self.restore()

    # --- control ---------------------------------------------------------------------------------
    def restore(self) -> None:
        """Listen (again, on the same port once chosen) and pass connections through."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name=f"proxy-{self.port}").start()

    def cut(self) -> None:
        """Close every connection through the proxy and refuse new ones until ``restore()``."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            _close(listener)
        for sock in sockets:
            _close(sock)

    @contextmanager
    def outage(self):
        self.cut()
        try:
            yield
        finally:
            self.restore()

    def close(self) -> None:
        self._stopped = True
        self.cut()

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    # --- the relay -------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client)
                    _close(upstream)
                    continue
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def database_proxy() -> OutageProxy:
    """A proxy in front of the PostgreSQL server this process's test database is on."""
    return OutageProxy(int(connection.settings_dict["PORT"] or 5432))


def wait_for(predicate, timeout: float, what: str, log_path: Path, step: float = 0.1):
    """``predicate()``'s first true value within ``timeout`` seconds; else the test fails with the
    end of the worker's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log_path.read_text()[-4000:]}")


def proxied_database_url(proxy: OutageProxy) -> str:
    """pytest's test database (the name tests/conftest.py's pytest-django gives it), through ``proxy``."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER'] or 'postgres'}{password}@127.0.0.1:{proxy.port}/{s['NAME']}"


def proxied_redis_url(redis_url: str, proxy: OutageProxy) -> str:
    """``redis_url``'s database number, through ``proxy``."""
    db = redis_url.rstrip("/").rpartition("/")[2]
    return f"redis://127.0.0.1:{proxy.port}/{db if db.isdigit() else 0}"


def upload_waiting(project, filename: str, rows) -> tuple:
    """An import batch of ``project`` and its uploaded CSV (header text,source,external_id, then
    ``rows``: lines, written as they come), as the upload page leaves them for the worker."""
    batch = ImportBatch.objects.create(project=project, filename=filename)
    folder = upload_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch.pk}-{filename}"
    with open(path, "w") as handle:
        handle.write("text,source,external_id\n")
        handle.writelines(rows)
    return batch, path

