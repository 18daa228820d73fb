"""The web service through a real outage: gunicorn (DEBUG=0) reaches PostgreSQL and Redis through
proxies (tests/db_outage.py) that the test cuts and restores; the shared servers keep running.

- /healthz answered 200 {"ok": true} while either was down: an orchestrator kept routing users to
  a server that could only fail. It now asks both and answers 503 naming the one that is down.
- While the database was down every page was Django's bare "Server Error (500)" and /api/ answered
  it as HTML. The site's own page now, and JSON under /api/.
- A retrain refused while Redis was down told the lead "The Celery application must be restarted"
  (Celery's result store giving up): it now says the broker did not answer.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

from labeling.projects.models import Membership
from tests.db_outage import OutageProxy, database_proxy, proxied_database_url, proxied_redis_url
from tests.service_processes import BIN, ROOT, fresh_broker, require_postgres, require_redis, service_env, stop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxies():
    require_postgres()
    require_redis()
    fresh_broker()
    database, broker = database_proxy(), OutageProxy(6379)
    yield database, broker
    database.close()
    broker.close()


@contextmanager
def gunicorn(tmp_path: Path, database: OutageProxy, broker: OutageProxy, **settings_env) -> Iterator[int]:
    """A gunicorn (DEBUG=0) reaching the database and the broker through the proxies; yields its port."""
    log_path = tmp_path / "gunicorn.log"
    redis_url = proxied_redis_url(os.environ["REDIS_URL"], broker)
    # This process's key: the server must accept the sessions the test signs in here.
    env = service_env(DEBUG="0", SECRET_KEY=settings.SECRET_KEY, ALLOWED_HOSTS="127.0.0.1",
                      SECURE_SSL_REDIRECT="0", GUNICORN_BIND="127.0.0.1:0", GUNICORN_WORKERS="1",
                      LONGTAIL_WARM_ENCODER="0", STATIC_ROOT=str(tmp_path / "static"), CELERY_TASK_ALWAYS_EAGER="0",
                      XDG_RUNTIME_DIR=str(tmp_path), DATABASE_URL=proxied_database_url(database), REDIS_URL=redis_url,
                      **settings_env)
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(BIN / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.conf.py"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log_path.read_text(errors="replace"))
        if found:
            try:
                if get(int(found.group(1)), "/healthz")[0] in (200, 503):
                    break
            except OSError:
                pass  # the worker is still loading the app
        time.sleep(0.3)
    else:
        stop(proc)
        pytest.fail(f"gunicorn did not come up:\n{log_path.read_text(errors='replace')[-4000:]}")
    try:
        yield int(found.group(1))
    finally:
        stop(proc)


def get(port: int, path: str, method: str = "GET", **headers) -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(method, path, headers={"Host": "127.0.0.1", **headers})
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type", ""), response.read().decode()


def test_healthz_names_the_database_or_the_broker_while_it_is_down(proxies, tmp_path):
    database, broker = proxies
    with gunicorn(tmp_path, database, broker) as port:
        assert get(port, "/healthz")[0] == 200
        with database.outage():
            status, _, body = get(port, "/healthz")
            assert status == 503, body
            assert json.loads(body) == {"ok": False, "database": "down", "broker": "ok", "down": ["database"]}
            assert "5432" not in body and "refused" not in body  # why goes to the log, not to anyone who asks
        status, _, body = get(port, "/healthz")  # back: the next probe connects afresh
        assert status == 200 and json.loads(body) == {"ok": True, "database": "ok", "broker": "ok", "down": []}, body
        started = time.monotonic()
        with broker.outage():
            status, _, body = get(port, "/healthz")
            assert status == 503 and json.loads(body)["down"] == ["broker"], body
        assert time.monotonic() - started < 5  # a probe answers within its own timeout
        assert get(port, "/healthz")[0] == 200


@pytest.fixture
def signed_in(make_user, project_factory):
    """(session cookie value, API token) of a lead of project "support"."""
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project_factory("support"), role=Membership.LEAD)
    browser = Client()
    browser.force_login(lead)
    return browser.cookies["sessionid"].value, Token.objects.create(user=lead).key


def test_a_page_answers_the_sites_error_page_while_the_database_is_down(proxies, tmp_path, signed_in):
    database, broker = proxies
    session, _ = signed_in
    with gunicorn(tmp_path, database, broker) as port:
        # Signed in (the pages' base template needs collected static files, which this server has not:
        # the session is shown valid through the API, which reads it the same way).
        assert get(port, "/api/projects/", Cookie=f"sessionid={session}")[0] == 200
        with database.outage():
            status, content_type, body = get(port, "/", Cookie=f"sessionid={session}")
        assert status == 500 and content_type.startswith("text/html"), (status, body[:300])
        assert "Server Error (500)" not in body, body
        assert 'id="server-error"' in body and "temporarily unavailable" in body and "Try again" in body, body
        assert "<script" not in body and "/static/" not in body  # stands alone


def test_the_api_answers_json_while_the_database_is_down(proxies, tmp_path, signed_in):
    database, broker = proxies
    _, token = signed_in
    with gunicorn(tmp_path, database, broker) as port:
        assert get(port, "/api/projects/", Authorization=f"Token {token}")[0] == 200
        with database.outage():
            status, content_type, body = get(port, "/api/projects/", Authorization=f"Token {token}")
        assert status == 500 and content_type == "application/json", (status, content_type, body[:300])
        assert "temporarily unavailable" in json.loads(body)["detail"]
        assert get(port, "/api/projects/", Authorization=f"Token {token}")[0] == 200  # back


def test_a_retrain_refused_while_redis_is_down_says_the_broker_did_not_answer(proxies, tmp_path, signed_in):
    database, broker = proxies
    _, token = signed_in
    with gunicorn(tmp_path, database, broker) as port:
        with broker.outage():
            status, _, body = get(port, "/api/projects/support/models/retrain/", method="POST",
                                  Authorization=f"Token {token}")
        assert status == 503, body
        detail = json.loads(body)["detail"]
        assert "Could not queue the work (is the broker up?)" in detail and "did not answer" in detail, detail
        assert "must be restarted" not in detail and "Retry limit exceeded" not in detail, detail


def test_healthz_in_eager_mode_says_there_is_no_broker_and_is_healthy(client, settings):
    """The demo (no REDIS_URL) runs tasks in the web process: no broker to ask, which is not a failure."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {"ok": True, "database": "ok", "broker": "none: eager mode, tasks run in the web process",
                               "down": []}


def test_the_first_requests_after_a_database_restart_are_served(proxies, tmp_path, signed_in):
    """Kept connections (DB_CONN_MAX_AGE) are checked before a request uses them
    (CONN_HEALTH_CHECKS): before, each connection a server process kept through a database restart
    failed its next request with a 500 before Django let it go."""
    database, broker = proxies
    _, token = signed_in
    with gunicorn(tmp_path, database, broker, DB_CONN_MAX_AGE="60") as port:  # the default: kept
        assert [get(port, "/api/projects/", Authorization=f"Token {token}")[0] for _ in range(12)] == [200] * 12
        database.cut()  # the restart happens while nobody asks
        time.sleep(0.5)
        database.restore()
        after = [get(port, "/api/projects/", Authorization=f"Token {token}")[0] for _ in range(12)]
        assert after == [200] * 12, after


def test_an_import_refused_while_redis_is_down_says_the_broker_did_not_answer(proxies, tmp_path, signed_in):
    database, broker = proxies
    _, token = signed_in
    boundary = "longtail-outage"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\ntext\r\nmy card was charged twice\r\n--{boundary}--\r\n").encode()
    with gunicorn(tmp_path, database, broker) as port:
        with broker.outage():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", "/api/projects/support/imports/", body=body, headers={
                "Host": "127.0.0.1", "Authorization": f"Token {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}"})
            response = connection.getresponse()
            answer = response.read().decode()
        assert response.status == 202, answer
        batch = json.loads(get(port, f"/api/projects/support/imports/{json.loads(answer)['id']}/",
                               Authorization=f"Token {token}")[2])
        message = batch["errors"][0]["message"]
        assert batch["state"] == "failed" and "(is the broker up?)" in message and "did not answer" in message, batch
        assert "must be restarted" not in message, message
