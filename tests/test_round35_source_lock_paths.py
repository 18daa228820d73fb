"""A change to a project's sources while an import writes to the project, on every path that makes
one (the sources page, the API's PUT, the Django admin's project page): the import's write share-
locks the sources (import_lock.hold_sources), so the change waits for it, but a bounded time
(LONGTAIL_SOURCE_LOCK_WAIT_SECONDS) and then is refused with a message saying why, nothing
changed. Before, the page and the API waited as long as the import wrote, and the admin deleted a
source the import was writing items of (its check for items saw none committed yet), which failed
the admin's commit on the items' foreign key: a 500. Two real PostgreSQL connections: the import in
the test's, the change in a thread's."""
import time

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from labeling.items.import_lock import lock_sources_for_change
from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects.models import Membership, Source

from .db_threads import in_thread
from .test_admin_label_rows import _change_form
from .test_browse_api import api_as
from .test_projects_pages import sources_post

pytestmark = pytest.mark.django_db(transaction=True)
BUSY = "an import is writing to this project; try again when it ends"
ROWS = 6000  # over one chunk (importer.CHUNK): the change starts between two
WAIT = 1.0  # the bound the tests set: short, so that the refusal comes while the import still writes


@pytest.fixture
def project(project_factory, settings):
    settings.LONGTAIL_SOURCE_LOCK_WAIT_SECONDS = WAIT
    return project_factory("busy", labels=("billing",), sources=("email", "chat"))


@pytest.fixture
def lead(project, make_user):
    user = make_user("lead")
    Membership.objects.create(project=project, user=user, role=Membership.LEAD)
    return user


def _sources(project):
    return sorted(Source.objects.filter(project=project).values_list("name", "quota"))


def _while_writing(project, tmp_path, change):
    """Import ROWS rows of the source email and run ``change`` in a thread once a chunk is written;
    returns the change's outcome, whether it ended while the import still wrote, and how long it took."""
    path = tmp_path / "many.csv"
    path.write_text("text,source\n" + "".join(f"mail {i} about order {i * 7919 % 100003},email\n"
                                              for i in range(ROWS)), encoding="utf-8")
    seen = {}

    def progress(phase, fraction, counts):
        if phase == "write" and counts.get("rows_imported") and "thread" not in seen:
            started = time.monotonic()
            seen["thread"], seen["outcome"] = in_thread(change)
            seen["thread"].join(timeout=WAIT + 8)  # ample for the bound; without one, the change waits on
            seen["ended_while_writing"] = not seen["thread"].is_alive()
            seen["took"] = time.monotonic() - started

    result = run_import(project, path, progress=progress)
    seen["thread"].join(timeout=60)
    assert result.ok and result.rows_imported == ROWS, [e.message for e in result.errors]
    assert Item.objects.filter(project=project, source__name="email").count() == ROWS
    assert "error" not in seen["outcome"], seen["outcome"]
    return seen


def _refused_in_time(seen):
    assert seen["ended_while_writing"], "the change waited for the whole import"
    assert WAIT * 0.9 <= seen["took"] < WAIT + 6, seen["took"]  # it waited, the bound, then gave up


@pytest.mark.parametrize("change", ["delete", "rename"])
def test_the_sources_page_waits_a_bounded_time_then_refuses_with_a_message(client, project, lead, tmp_path, change):
    email, chat = (Source.objects.get(project=project, name=name) for name in ("email", "chat"))
    rows = [{"id": chat.pk, "name": "chat", "quota": "1.0"}, {"id": email.pk, "name": "email", "quota": "0",
                                                            "delete": True}]
    if change == "rename":
        rows = [{"id": chat.pk, "name": "chat", "quota": "0.5"}, {"id": email.pk, "name": "mail", "quota": "0.5"}]
    client.force_login(lead)

    seen = _while_writing(project, tmp_path, lambda: client.post("/p/busy/settings/sources/",
                                                                 sources_post(project, rows)))

    _refused_in_time(seen)
    response = seen["outcome"]["result"]
    assert response.status_code == 409
    page = response.content.decode()
    assert BUSY in page and "Traceback" not in page
    assert 'value="mail"' in page or change == "delete"  # the lead's edit is still on the page to save again
    assert _sources(project) == [("chat", 0.5), ("email", 0.5)]


def test_the_api_waits_a_bounded_time_then_answers_409_with_the_message(project, lead, tmp_path):
    chat = Source.objects.get(project=project, name="chat")

    seen = _while_writing(project, tmp_path, lambda: api_as(lead).put(
        "/api/projects/busy/sources/", [{"id": chat.pk, "name": "chat", "quota": 1.0}], format="json"))

    _refused_in_time(seen)
    response = seen["outcome"]["result"]
    assert (response.status_code, response.json()) == (409, {"detail": BUSY})
    assert _sources(project) == [("chat", 0.5), ("email", 0.5)]


@pytest.mark.parametrize("change", ["delete", "rename"])
def test_the_admin_project_page_waits_a_bounded_time_then_refuses_with_a_message(
        admin_client, project, tmp_path, change):
    data = _change_form(admin_client, project)
    prefix = next(key[:-len("-id")] for key, value in data.items()
                  if key.startswith("sources") and key.endswith("-id")
                  and value == str(Source.objects.get(project=project, name="email").pk))
    if change == "delete":
        data[f"{prefix}-DELETE"] = "on"
    else:
        data[f"{prefix}-name"] = "mail"

    seen = _while_writing(project, tmp_path,
                          lambda: admin_client.post(f"/admin/projects/project/{project.pk}/change/", data))

    _refused_in_time(seen)
    response = seen["outcome"]["result"]
    assert response.status_code == 200  # the form again, with the message
    assert BUSY in response.content.decode()
    assert _sources(project) == [("chat", 0.5), ("email", 0.5)]

    # once the import has ended the same save goes through: the rename, or the deletion's refusal
    # (the source has items now), as a message on the form
    response = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    if change == "rename":
        assert response.status_code == 302
        assert _sources(project) == [("chat", 0.5), ("mail", 0.5)]
    else:
        assert response.status_code == 200
        assert "would require deleting the following protected related objects" in response.content.decode()
        assert _sources(project) == [("chat", 0.5), ("email", 0.5)]


def test_a_save_that_leaves_the_sources_alone_does_not_wait_for_the_import(admin_client, project, tmp_path):
    """The admin's project page locks the sources only when a source row changes: a description
    saved while an import writes goes through at once."""
    data = _change_form(admin_client, project)
    data["description"] = "changed while importing"
    seen = _while_writing(project, tmp_path,
                          lambda: admin_client.post(f"/admin/projects/project/{project.pk}/change/", data))
    assert seen["ended_while_writing"] and seen["took"] < WAIT
    assert seen["outcome"]["result"].status_code == 302
    project.refresh_from_db()
    assert project.description == "changed while importing"


def test_without_an_import_a_change_is_not_held_up(client, project, lead):
    """No import: the bound does not apply, the page saves as before."""
    email, chat = (Source.objects.get(project=project, name=name) for name in ("email", "chat"))
    client.force_login(lead)
    response = client.post("/p/busy/settings/sources/", sources_post(project, [
        {"id": chat.pk, "name": "chat", "quota": "1.0"}, {"id": email.pk, "name": "email", "quota": "0",
                                                          "delete": True}]))
    assert response.status_code == 302
    assert _sources(project) == [("chat", 1.0)]


def test_the_bound_is_for_the_lock_only_and_the_change_needs_its_transaction(project, postgres_only):
    """The transaction's later statements keep the lock_timeout they had; called outside a
    transaction, the lock would end with the call, so that is refused as a programming error."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '42s'")
        lock_sources_for_change(project)
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "42s"
    with pytest.raises(TransactionManagementError):
        lock_sources_for_change(project)
