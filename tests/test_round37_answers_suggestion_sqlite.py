"""The demo's SQLite: an answer's suggestion record (whether the page showed a suggestion with
the item, and its label) is written in the answer's own transaction. Before, it was a second
transaction after the answer's commit: when another write took SQLite's one write lock between
the two, the answer was stored while its reply said 503 (config.database_busy), and the page's
outbox, retrying it, got the stored answer without its suggestion record.

A real database file; the other write takes the lock the moment the answer's write has committed
(a receiver of answer_saved, which is sent after that transaction); a subprocess, because the
database is chosen from DATABASE_URL when the settings are imported. On PostgreSQL the suggestion
is stored with the answer as well (the second test)."""
import textwrap
import uuid

import pytest

from labeling.annotations.models import Annotation

from .sqlite_demo import run_on_sqlite_demo
from .test_annotation_helpers import add_member, api_as, make_open_wave

SCRIPT = textwrap.dedent("""
    import json, sqlite3, sys, uuid
    import django
    from django.conf import settings
    django.setup()
    settings.DATABASES["default"]["OPTIONS"]["timeout"] = 0.5  # before any connection opens: a quick 503
    from django.test.utils import setup_test_environment
    setup_test_environment()  # the test client's host
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient
    from labeling.annotations.models import Annotation
    from labeling.annotations.signals import answer_saved
    from labeling.projects.models import Label, Membership, Project, Source
    from tests.test_annotation_helpers import make_open_wave

    assert connection.vendor == "sqlite"
    project = Project.objects.create(slug="demo37", name="Demo37")
    billing = Label.objects.create(project=project, name="billing", hotkey="1")
    fraud = Label.objects.create(project=project, name="fraud", hotkey="2")
    Source.objects.create(project=project, name="email", quota=1.0)
    make_open_wave(project, 2)
    ann = get_user_model().objects.create_user("ann37s", "ann37s@example.org", "pw-Longtail-123")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    client = APIClient()
    client.force_authenticate(ann)
    leased = client.post("/api/projects/demo37/batches/", {}, format="json").json()["items"]

    other_write = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)

    def take_the_write_lock(**kwargs):  # another write begins right after the answer's commit
        other_write.execute("BEGIN IMMEDIATE")

    answer_saved.connect(take_the_write_lock, weak=False)
    client_id = str(uuid.uuid4())
    reply = client.post("/api/projects/demo37/annotations/", {
        "client_id": client_id, "assignment": leased[0]["assignment"], "label": billing.pk,
        "suggestion_shown": True, "suggested_label": fraud.pk}, format="json")
    other_write.execute("ROLLBACK")
    answer_saved.disconnect(take_the_write_lock)
    stored = list(Annotation.objects.filter(client_id=client_id).values("suggestion_shown", "suggested_label_id"))
    print(json.dumps({"status": reply.status_code, "stored": stored, "fraud": fraud.pk}))
""")


def test_on_sqlite_an_answer_and_its_suggestion_record_are_stored_together(tmp_path):
    out = run_on_sqlite_demo(tmp_path, SCRIPT, str(tmp_path / "demo.sqlite3"))
    assert out["status"] == 201, out
    assert out["stored"] == [{"suggestion_shown": True, "suggested_label_id": out["fraud"]}]


@pytest.mark.django_db
def test_the_suggestion_is_stored_with_the_answer(project_factory, make_user):
    project = project_factory("sugg37", labels=("billing", "fraud"))
    make_open_wave(project, 2)
    ann = api_as(add_member(make_user, project, "ann37p"))
    held = ann.post("/api/projects/sugg37/batches/", {}, format="json").json()["items"]
    billing, fraud = project.labels.get(name="billing"), project.labels.get(name="fraud")
    client_id = str(uuid.uuid4())
    reply = ann.post("/api/projects/sugg37/annotations/", {
        "client_id": client_id, "assignment": held[0]["assignment"], "label": billing.pk,
        "suggestion_shown": True, "suggested_label": fraud.pk}, format="json")
    assert reply.status_code == 201, reply.content
    assert (reply.json()["annotation"]["suggestion_shown"], reply.json()["annotation"]["suggested_label"]) == (
        True, fraud.pk)
    stored = Annotation.objects.get(client_id=client_id)
    assert (stored.suggestion_shown, stored.suggested_label_id) == (True, fraud.pk)
    # Only a suggested label (the page did not say it showed it): stored as sent, as before.
    plain = ann.post("/api/projects/sugg37/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": held[1]["assignment"], "label": billing.pk,
        "suggested_label": fraud.pk}, format="json")
    assert plain.status_code == 201, plain.content
    assert (plain.json()["annotation"]["suggestion_shown"], plain.json()["annotation"]["suggested_label"]) == (
        False, fraud.pk)
