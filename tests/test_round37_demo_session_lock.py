"""The demo's SQLite: "database is locked" raised while SessionMiddleware saves the session on the
way out (after the view) answers config.database_busy's 503, as one raised in a view does. Before,
the middleware's process_exception saw only the view's errors: this one was Django's 500 (its debug
page with DEBUG on, the demo's default).

A real sign-in on a real demo database: the sign-in view writes (last_login, the new session's
row) and sets the session's user, which SessionMiddleware saves after the view. Another connection
takes SQLite's write lock as the sign-in ends (as an import starting at that moment would) and holds
it past the busy timeout (lowered here from the settings' 30 s), so the save is what fails.

And a lock met before the view: while another connection holds SQLite's EXCLUSIVE lock (a commit),
even reads wait, and the first is the session's, in LoginRequiredMiddleware; Django answered 500
there too. A page answers the 503 page, the API its JSON."""
import json
import textwrap

import pytest

from tests.sqlite_demo import run_on_sqlite_demo

SQLITE_TIMEOUT = 0.5  # the busy timeout, lowered from the settings' 30 s

SCRIPT = textwrap.dedent("""
    import json, sqlite3, sys
    import django
    from django.conf import settings
    django.setup()
    settings.DATABASES["default"]["OPTIONS"]["timeout"] = float(sys.argv[1])  # before any connection opens
    from django.test.utils import setup_test_environment
    setup_test_environment()  # the test client's host
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_in
    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test import Client

    assert connection.vendor == "sqlite"
    get_user_model().objects.create_user("lena", password="pw-Longtail-123")
    held = []

    def take_the_write_lock(**kwargs):
        # after Django's own receiver (last_login): the view's writes are done, the session's save is not
        other = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.append(other)

    def sign_in(debug):
        settings.DEBUG = debug  # the debug page (the demo) or the 500 handler (production)
        client = Client(raise_request_exception=False)
        user_logged_in.connect(take_the_write_lock, dispatch_uid="lock")
        try:
            response = client.post("/accounts/login/", {"username": "lena", "password": "pw-Longtail-123"})
        finally:
            user_logged_in.disconnect(dispatch_uid="lock")
            for other in held:
                other.rollback()
                other.close()
            held.clear()
        signed_in = client.get("/").status_code == 200  # the session cookie, if any, names a signed-in session
        return {"status": response.status_code, "type": response.get("Content-Type", ""),
                "retry_after": response.get("Retry-After"), "body": response.content.decode(errors="replace"),
                "session_cookie": settings.SESSION_COOKIE_NAME in response.cookies, "signed_in": signed_in}

    def read_during_commit(debug, path):
        settings.DEBUG = debug
        client = Client(raise_request_exception=False)
        client.force_login(get_user_model().objects.get(username="lena"))
        other = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            response = client.get(path)
        finally:
            other.rollback()
            other.close()
        return {"status": response.status_code, "type": response.get("Content-Type", ""),
                "retry_after": response.get("Retry-After"), "body": response.content.decode(errors="replace")}

    out = {"debug": sign_in(True), "production": sign_in(False),
           "read_page": read_during_commit(True, "/"), "read_api": read_during_commit(False, "/api/projects/")}
    # the lock gone, the same sign-in goes through
    settings.DEBUG = True
    client = Client()
    again = client.post("/accounts/login/", {"username": "lena", "password": "pw-Longtail-123"})
    out["again"] = {"status": again.status_code, "signed_in": client.get("/").status_code == 200,
                    "sessions": Session.objects.count()}
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    return run_on_sqlite_demo(tmp_path_factory.mktemp("demo"), SCRIPT, str(SQLITE_TIMEOUT))


@pytest.mark.parametrize("case", ["debug", "production"])
def test_a_lock_met_saving_the_session_answers_503(outcome, case):
    answer = outcome[case]
    assert answer["status"] == 503, answer["body"][:500]
    assert answer["type"].split(";")[0] == "text/html"
    assert 'id="database-busy"' in answer["body"] and "busy with another write" in answer["body"]
    assert int(answer["retry_after"]) > 0
    # the session was not saved: no cookie naming it, and the user is not signed in
    assert not answer["session_cookie"] and not answer["signed_in"]


def test_once_the_lock_is_gone_the_same_sign_in_goes_through(outcome):
    again = outcome["again"]
    assert again["status"] == 302 and again["signed_in"]
    assert again["sessions"] >= 1



def test_a_lock_met_reading_in_a_middleware_answers_503(outcome):
    page, api = outcome["read_page"], outcome["read_api"]
    assert (page["status"], page["type"].split(";")[0]) == (503, "text/html"), page["body"][:500]
    assert 'id="database-busy"' in page["body"]
    assert (api["status"], api["type"]) == (503, "application/json"), api["body"][:500]
    assert "busy with another write" in json.loads(api["body"])["detail"]
    assert int(page["retry_after"]) > 0 and int(api["retry_after"]) > 0
