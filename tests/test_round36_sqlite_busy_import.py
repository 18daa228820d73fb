"""The demo's SQLite while an import writes (it holds the database's one write lock until it commits):
through the real pages, API and admin, every other write answers in bounded time with a message,
never a 500, and stores nothing.

- A change to the project's sources (the sources page, the API's PUT, the Django admin's project
  page) waits LONGTAIL_SOURCE_LOCK_WAIT_SECONDS and is refused with the sources' message: 409 on the
  page and the API, the admin's page again with the lead's edits; before, each waited for the whole
  import and past SQLite's busy timeout failed "database is locked", a 500.
- Any other write (an annotator's answer by the API, a rule saved on its page) waits SQLite's busy
  timeout (lowered here from the settings' 30 s so the test is quick) and answers 503 with
  Retry-After and what happened (config.database_busy): JSON under /api/, the site's page
  otherwise; before, a 500. Nothing of it is stored, and the same answer sent again once the import
  has ended is stored (the annotate page's outbox retries a 5xx with the same client id).

A real database file, the import in one thread and the requests in another; a subprocess, because
the database is chosen from DATABASE_URL when the settings are imported."""
import json
import re
import textwrap

import pytest

from tests.sqlite_demo import run_on_sqlite_demo

WAIT = 1.0  # LONGTAIL_SOURCE_LOCK_WAIT_SECONDS
SQLITE_TIMEOUT = 2.0  # the busy timeout, lowered from the settings' 30 s
SOURCES_BUSY = "an import is writing to this project; try again when it ends"
DATABASE_BUSY = "busy with another write"
KEPT_ROWS = {("sources-0-quota", "0.3"), ("sources-1-quota", "0.7")}  # the lead's edits, shown again

SCRIPT = textwrap.dedent("""
    import json, sys, threading, time, uuid
    from html.parser import HTMLParser
    import django
    from django.conf import settings
    django.setup()
    settings.DATABASES["default"]["OPTIONS"]["timeout"] = float(sys.argv[2])  # before any connection opens
    from django.test.utils import setup_test_environment
    setup_test_environment()  # the test client's host
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from rest_framework.test import APIClient
    from labeling.annotations.models import Annotation, Assignment
    from labeling.items.importer import run_import
    from labeling.projects.models import Label, Membership, Project, Rule, Source
    from labeling.waves.models import WaveItem
    from tests.test_annotation_helpers import make_open_wave

    PATH = sys.argv[1]
    assert connection.vendor == "sqlite"

    class Fields(HTMLParser):
        # the fields a browser sends with the form whose id is ``form_id`` (or the first form)
        def __init__(self, form_id=None):
            super().__init__()
            self.form_id, self.inside, self.done, self.data, self.select = form_id, False, False, {}, None
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form" and not self.done and (self.form_id is None or a.get("id") == self.form_id):
                self.inside = True
            if not self.inside or not a.get("name") and tag != "option":
                return
            if tag == "input" and a.get("type") not in ("submit", "button", "file"):
                if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                    self.data[a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
            elif tag == "textarea":
                self.data[a["name"]] = ""
            elif tag == "select":
                self.select = a["name"]
            elif tag == "option" and self.select and (self.select not in self.data or "selected" in a):
                self.data[self.select] = a.get("value", "")
        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            if tag == "form" and self.inside:
                self.inside, self.done = False, True

    def fields(client, url, form_id=None):
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        parser = Fields(form_id)
        parser.feed(page.content.decode())
        return parser.data

    User = get_user_model()
    project = Project.objects.create(slug="demo", name="Demo", batch_size=3)
    for i, name in enumerate(("ham", "spam")):
        Label.objects.create(project=project, name=name, hotkey=str(i + 1))
    email = Source.objects.create(project=project, name="email", quota=0.5)
    Source.objects.create(project=project, name="chat", quota=0.5)
    lead, ann = User.objects.create_user("lena"), User.objects.create_user("ann")
    root = User.objects.create_superuser("root", "root@example.org", "pw-Longtail-123")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    make_open_wave(project, 3)
    page, admin_page, api_lead, api_ann = (Client(raise_request_exception=False), Client(raise_request_exception=False),
                                           APIClient(raise_request_exception=False), APIClient(raise_request_exception=False))
    page.force_login(lead)
    admin_page.force_login(root)
    api_lead.force_authenticate(lead)
    api_ann.force_authenticate(ann)
    assignment = api_ann.post("/api/projects/demo/batches/", {}, format="json").json()["items"][0]["assignment"]
    answer = {"client_id": str(uuid.uuid4()), "assignment": assignment, "label": Label.objects.get(name="ham").pk}
    # every form as it is before the import: the lead sends it during the import
    sources_form = fields(page, "/p/demo/settings/sources/", "sources-form")
    sources_form.update({"sources-0-quota": "0.3", "sources-1-quota": "0.7"})
    admin_url = f"/admin/projects/project/{project.pk}/change/"
    admin_form = fields(admin_page, admin_url, "project_form")
    admin_form.update({"sources-0-quota": "0.3", "sources-1-quota": "0.7", "_save": "Save"})
    rule_form = {**fields(page, "/p/demo/settings/rules/", "rule-form"), "pattern": "refund",
                 "label": str(Label.objects.get(name="spam").pk)}
    def rows():
        # what the refused requests would have written: the answer's assignment and wave item, the
        # project's row (the admin's save), its sources, labels and rules
        return {model.__name__: [list(map(str, row)) for row in model.objects.order_by("pk").values_list()]
                for model in (Assignment, WaveItem, Project, Source, Label, Rule, Annotation)}
    before = rows()
    with open(PATH, "w") as f:
        f.write("text,source\\n" + "".join(f"mail {i} about order {i * 7919 % 100003},email\\n" for i in range(6000)))
    connection.close()

    def timed(send):
        started = time.monotonic()
        response = send()
        took = time.monotonic() - started
        body = response.content.decode()
        return {"status": response.status_code, "took": took, "body": body,
                "retry_after": response.get("Retry-After"), "type": response.get("Content-Type", "")}

    out, writing, sent = {}, threading.Event(), threading.Event()
    def progress(phase, fraction, counts):
        if phase == "write" and counts.get("rows_imported") and not writing.is_set():
            writing.set()
            sent.wait(timeout=120)  # the import's write holds the lock until every request has answered
    def importing():
        result = run_import(project, PATH, progress=progress)
        out["import"] = {"ok": result.ok, "rows": result.rows_imported}
        connection.close()
    thread = threading.Thread(target=importing)
    thread.start()
    assert writing.wait(timeout=120)
    try:
        out["sources_page"] = timed(lambda: page.post("/p/demo/settings/sources/", sources_form))
        out["sources_api"] = timed(lambda: api_lead.put("/api/projects/demo/sources/", [
            {"id": email.pk, "name": "email", "quota": 1.0}], format="json"))
        out["admin"] = timed(lambda: admin_page.post(admin_url, admin_form))
        out["answer"] = timed(lambda: api_ann.post("/api/projects/demo/annotations/", answer, format="json"))
        out["rule_page"] = timed(lambda: page.post("/p/demo/settings/rules/", rule_form))
    finally:
        out["import_running"] = thread.is_alive()
        sent.set()
        thread.join()
    out["unchanged"] = rows() == before or {"before": before, "after": rows()}
    out["after"] = {"sources": sorted(Source.objects.filter(project=project).values_list("name", "quota")),
                    "answers": Annotation.objects.count(), "rules": Rule.objects.count(),
                    "items": project.items.count()}
    out["answer_again"] = timed(lambda: api_ann.post("/api/projects/demo/annotations/", answer, format="json"))
    out["answers_then"] = Annotation.objects.count()
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sqlite_busy")
    out = run_on_sqlite_demo(tmp, SCRIPT, str(tmp / "many.csv"), str(SQLITE_TIMEOUT),
                             LONGTAIL_SOURCE_LOCK_WAIT_SECONDS=str(WAIT))
    assert out["import_running"], "the import had ended before the requests answered"
    return out


def brief(seen):
    return {key: (value[:300] if key == "body" else value) for key, value in seen.items()}


def test_the_sources_page_is_refused_in_bounded_time_with_the_message(outcome):
    seen = outcome["sources_page"]
    assert seen["status"] == 409, brief(seen)
    assert SOURCES_BUSY in seen["body"]
    assert KEPT_ROWS <= set(re.findall(r'name="(sources-\d-quota)" value="([\d.]+)"', seen["body"]))
    assert WAIT * 0.9 <= seen["took"] < WAIT + 3, seen["took"]


def test_the_sources_api_is_refused_in_bounded_time_with_the_message(outcome):
    seen = outcome["sources_api"]
    assert (seen["status"], json.loads(seen["body"])) == (409, {"detail": SOURCES_BUSY}), brief(seen)
    assert WAIT * 0.9 <= seen["took"] < WAIT + 3, seen["took"]


def test_the_admin_project_page_is_refused_in_bounded_time_with_the_edits_kept(outcome):
    seen = outcome["admin"]
    assert seen["status"] == 200, brief(seen)
    assert SOURCES_BUSY in seen["body"]
    assert KEPT_ROWS <= set(re.findall(r'name="(sources-\d-quota)" value="([\d.]+)"', seen["body"]))
    assert WAIT * 0.9 <= seen["took"] < WAIT + 3, seen["took"]


def test_an_answer_meeting_the_locked_database_gets_a_503_with_the_reason_in_json(outcome):
    seen = outcome["answer"]
    assert seen["status"] == 503, brief(seen)
    assert seen["type"] == "application/json"
    assert DATABASE_BUSY in json.loads(seen["body"])["detail"]
    assert int(seen["retry_after"]) > 0
    assert SQLITE_TIMEOUT * 0.9 <= seen["took"] < SQLITE_TIMEOUT + 3, seen["took"]


def test_a_page_write_meeting_the_locked_database_gets_the_sites_503_page(outcome):
    seen = outcome["rule_page"]
    assert seen["status"] == 503, brief(seen)
    assert seen["type"].startswith("text/html")
    assert 'id="database-busy"' in seen["body"] and DATABASE_BUSY in seen["body"]
    assert "Traceback" not in seen["body"] and "OperationalError" not in seen["body"]
    assert int(seen["retry_after"]) > 0


def test_nothing_refused_was_stored_and_the_import_wrote_everything(outcome):
    assert outcome["unchanged"] is True, outcome["unchanged"]
    assert outcome["import"] == {"ok": True, "rows": 6000}
    assert outcome["after"] == {"sources": [["chat", 0.5], ["email", 0.5]], "answers": 0, "rules": 0,
                                "items": 6003}


def test_the_same_answer_sent_again_after_the_import_is_stored_once(outcome):
    assert outcome["answer_again"]["status"] == 201, brief(outcome["answer_again"])
    assert outcome["answers_then"] == 1
