"""The web service's gunicorn (config/gunicorn.conf.py) lets a long request finish: a streamed
export read by a slow client, and an upload sent slowly, each lasting several times
GUNICORN_TIMEOUT. With sync workers the arbiter took the busy worker for a hung one and killed it
("WORKER TIMEOUT"): the export stopped at a row boundary with HTTP 200 (it looked complete) and the
upload answered 500 with nothing imported. Threaded workers send their heartbeat from the main
thread, whatever a request thread is doing.

Real gunicorn with the product's config file, DEBUG=0, against pytest's PostgreSQL database.
"""
from __future__ import annotations

import csv
import http.client
import io
import json
import re
import runpy
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from labeling.annotations.models import Annotation
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Label, Membership
from learner.text import text_hash
from tests.service_processes import BIN, ROOT, fresh_broker, require_postgres, require_redis, service_env, stop

TIMEOUT_S = 3  # GUNICORN_TIMEOUT for these servers; every transfer below lasts well over twice this


def start_gunicorn(tmp_path: Path, **env) -> tuple[subprocess.Popen, str, Path]:
    """gunicorn as the image runs it (`-c config/gunicorn.conf.py`), one worker, port chosen by the
    kernel (read back from the log)."""
    log_path = tmp_path / "gunicorn.log"
    settings_env = service_env(
        DEBUG="0", SECRET_KEY="deploy-fixes-test-secret", ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0",
        GUNICORN_BIND="127.0.0.1:0", GUNICORN_WORKERS="1", GUNICORN_TIMEOUT=str(TIMEOUT_S),
        LONGTAIL_WARM_ENCODER="0", MEDIA_ROOT=str(tmp_path / "media"), STATIC_ROOT=str(tmp_path / "static"),
        CELERY_TASK_ALWAYS_EAGER="0", XDG_RUNTIME_DIR=str(tmp_path), **env)  # its own control socket
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(BIN / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.conf.py"],
                                cwd=ROOT, env=settings_env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log_path.read_text(errors="replace"))
        if found:
            port = int(found.group(1))
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return proc, f"127.0.0.1:{port}", log_path
            except OSError:
                pass  # the worker is still loading the app
        time.sleep(0.3)
    stop(proc)
    pytest.fail(f"gunicorn did not come up:\n{log_path.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def lead_project(make_user, project_factory):
    require_postgres()
    require_redis()
    fresh_broker()
    project = project_factory("big")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    return project, lead, Token.objects.create(user=lead).key


@pytest.mark.django_db(transaction=True)
def test_a_streamed_export_longer_than_the_timeout_arrives_whole(lead_project, tmp_path):
    """About 14 MB of CSV read at about 1.5 MB/s (9 s against a 3 s timeout): every row arrives."""
    project, lead, token = lead_project
    source = project.sources.first()
    billing = Label.objects.get(project=project, name="billing")
    filler = "refund " * 2000  # 14,000 characters per item, under LONGTAIL_MAX_TEXT_CHARS
    texts = [f"ticket {n:05d} {filler}" for n in range(1000)]
    items = Item.objects.bulk_create(Item(project=project, source=source, text=t, text_hash=text_hash(t)) for t in texts)
    for item in items:
        item.dup_group = item.pk
    Item.objects.bulk_update(items, ["dup_group"])
    Annotation.objects.bulk_create(
        Annotation(project=project, item=item, annotator=lead, label=billing, origin=Annotation.ANNOTATOR,
                   client_id=uuid.uuid4()) for item in items)

    proc, address, log_path = start_gunicorn(tmp_path)
    try:
        host, port = address.split(":")
        # A small receive buffer keeps the server's writes blocked on this reader, as a slow
        # network does, instead of the kernel taking the whole file at once.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.settimeout(30)
        sock.connect((host, int(port)))
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.sock = sock
        connection.request("GET", f"/api/projects/{project.slug}/export/csv/",
                           headers={"Authorization": f"Token {token}"})
        response = connection.getresponse()
        assert response.status == 200
        started, body, error = time.monotonic(), bytearray(), None
        try:
            while chunk := response.read(64 * 1024):
                body += chunk
                time.sleep(0.04)  # about 1.5 MB/s
        except (http.client.IncompleteRead, ConnectionError, OSError) as exc:
            error = exc
        elapsed = time.monotonic() - started
        log = log_path.read_text(errors="replace")
    finally:
        stop(proc)

    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8", errors="replace"))))
    assert error is None and "WORKER TIMEOUT" not in log, (
        f"the export was cut off after {len(body):,} bytes and {elapsed:.1f} s ({error!r}); log:\n{log[-2000:]}")
    assert elapsed > 2 * TIMEOUT_S, f"the transfer took {elapsed:.1f} s: not longer than the timeout, proves nothing"
    assert len(rows) == len(items) and {row["item_id"] for row in rows} == {str(item.pk) for item in items}
    assert all(row["label"] == "billing" and row["text"] == item.text
               for row, item in zip(sorted(rows, key=lambda r: int(r["item_id"])), items, strict=True))


@pytest.mark.django_db(transaction=True)
def test_a_slow_upload_longer_than_the_timeout_is_accepted(lead_project, tmp_path):
    """A 240 KB JSONL file sent in 8 s (3 s timeout): 202, its ImportBatch, the whole file stored."""
    project, lead, token = lead_project
    lines = [json.dumps({"text": f"slow upload ticket {n}: my card was charged twice", "source": "email"})
             for n in range(4000)]
    content = ("\n".join(lines) + "\n").encode()
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"skip_invalid\"\r\n\r\nfalse\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.jsonl\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()

    proc, address, log_path = start_gunicorn(tmp_path)
    try:
        host, port = address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.putrequest("POST", f"/api/projects/{project.slug}/imports/")
        connection.putheader("Authorization", f"Token {token}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        started, pieces, error = time.monotonic(), 40, None
        step = -(-len(body) // pieces)
        try:
            for start in range(0, len(body), step):
                connection.send(body[start:start + step])
                time.sleep(8 / pieces)
            response = connection.getresponse()
            status, answer = response.status, response.read()
        except (ConnectionError, OSError, http.client.HTTPException) as exc:
            status, answer, error = None, b"", exc
        elapsed = time.monotonic() - started
        log = log_path.read_text(errors="replace")
    finally:
        stop(proc)

    assert status == 202 and "WORKER TIMEOUT" not in log, (
        f"upload answered {status} ({error!r}) after {elapsed:.1f} s: {answer[:300]!r}; log:\n{log[-2000:]}")
    assert elapsed > 2 * TIMEOUT_S
    batch = ImportBatch.objects.get(project=project)
    assert json.loads(answer)["id"] == batch.pk and batch.filename == "slow.jsonl"
    stored = [path for path in (tmp_path / "media" / "imports" / project.slug).iterdir()
              if path.name.startswith(f"{batch.pk}-slow.jsonl")]
    assert len(stored) == 1 and stored[0].read_bytes() == content
    fresh_broker()  # the queued import message is not for any later test



def test_the_config_runs_threaded_workers(monkeypatch):
    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gthread" and conf["threads"] == 4
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["threads"] == 8
