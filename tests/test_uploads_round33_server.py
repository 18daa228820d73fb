"""The audit's reproduction against a real server: gunicorn with DEBUG=0 and its own TMPDIR, a client
without an account posts a large file part and keeps the connection open before the closing
boundary. The temp folder stayed full (the whole part spooled) for as long as the client waited;
now nothing of it is written, and the endpoint still answers as it did (400, 403)."""
import http.client
import os
import time
import uuid

import pytest

from tests.service_processes import free_port, require_postgres, start_web, stop

MiB = 1 << 20
PART = 48 * MiB
STALL_S = 3.0  # the old server had spooled the whole part well within this


@pytest.fixture
def web(transactional_db, tmp_path):
    require_postgres()
    spool = tmp_path / "spool"
    spool.mkdir()
    port = free_port()
    proc = start_web(tmp_path / "web.log", port, DEBUG="0", SECRET_KEY="uploads-round33-test-secret",
                     ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0", STATIC_ROOT=str(tmp_path / "static"),
                     MEDIA_ROOT=str(tmp_path / "media"), LONGTAIL_WARM_ENCODER="0", CELERY_TASK_ALWAYS_EAGER="0",
                     LONGTAIL_MAX_UPLOAD_BYTES=str(8 * MiB), TMPDIR=str(spool))
    yield port, spool
    stop(proc)


def spooled(folder) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())


def post_and_hold(port, spool, path, fields, headers) -> tuple[int, bytes, int]:
    """Sends the fields and a PART-byte file part, waits STALL_S before the closing boundary while
    watching the temp folder; returns the status, the body and the most the folder held."""
    boundary = uuid.uuid4().hex
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                   for name, value in fields)
    head = (head + f'--{boundary}\r\nContent-Disposition: form-data; name="junk"; filename="junk.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.putrequest("POST", path)
    for name, value in {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                        "Content-Length": str(len(head) + PART + len(tail))}.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(head)
    chunk = b"x" * MiB
    for _ in range(PART // MiB):
        connection.send(chunk)
    peak, until = 0, time.monotonic() + STALL_S
    while time.monotonic() < until:
        peak = max(peak, spooled(spool))
        time.sleep(0.05)
    connection.send(tail)
    response = connection.getresponse()
    return response.status, response.read(), peak


def test_a_file_part_without_an_account_is_never_spooled(web):
    port, spool = web
    status, body, peak = post_and_hold(port, spool, "/api/auth/token/", [("username", "nobody"), ("password", "x")], {})
    assert status == 400 and b"non_field_errors" in body, body[:300]
    assert peak < 64 * 1024, f"the token endpoint spooled {peak:,} bytes of an anonymous file part"
    status, body, peak = post_and_hold(port, spool, "/accounts/login/", [("username", "nobody"), ("password", "x")],
                                       {"Cookie": "csrftoken=" + "a" * 32})
    assert status == 403, body[:300]
    assert peak < 64 * 1024, f"the sign-in page spooled {peak:,} bytes of an anonymous file part"
    assert spooled(spool) == 0
