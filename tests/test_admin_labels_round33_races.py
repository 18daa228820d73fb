"""Label writes through the Django admin racing the other label writers, on two real PostgreSQL
connections. The admin's saves and deletions take the label writers' lock as the labels page,
the API, imports and "none of these" do, before anything is checked: of two look-alike names
saved at the same moment one is stored and the other is refused with the look-alike message (not
an integrity error, a 500, nor a second look-alike), with or without labels in the project; and a
label deleted while an answer is being stored on it is refused as in use."""
import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from labeling.annotations import leasing
from labeling.annotations import services as answers
from labeling.annotations.models import Annotation
from labeling.projects import services
from labeling.projects.models import Label

from .db_threads import backends_waiting_on_locks, in_thread
from .test_admin_label_rows import _change_form
from .test_annotation_helpers import add_member, make_open_wave
from .test_lease_races import wait_until
from .test_settings_pages_stale_edits import open_page, row_prefix

pytestmark = pytest.mark.django_db(transaction=True)

LOOKS_ALIKE = "A label named “spam” already exists in this project"


def _holding_after_insert(table, paused, go):
    """Hold the connection right after its first INSERT into ``table`` (written, not committed)."""
    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not paused.is_set() and sql.lstrip().startswith("INSERT") and f'"{table}"' in sql:
            paused.set()
            go.wait(15)
        return result

    return hook


def _held(target, *args, table="projects_label"):
    """Run ``target`` on its own connection, held after its INSERT into ``table`` until ``go`` is set."""
    paused, go = threading.Event(), threading.Event()

    def run():
        with connection.execute_wrapper(_holding_after_insert(table, paused, go)):
            return target(*args)

    thread, outcome = in_thread(run)
    assert paused.wait(15), outcome
    return thread, outcome, go


def _second_writer_waits(target, *args):
    """Start ``target`` while the first writer is held; it must wait for the first writer's locks."""
    thread, outcome = in_thread(target, *args)
    waited = wait_until(lambda: backends_waiting_on_locks() >= 1 or not thread.is_alive(), timeout=10)
    return thread, outcome, waited and thread.is_alive()


def _names(project):
    return sorted(Label.objects.filter(project=project).values_list("name", flat=True))


def _lead_saves(project, name):  # the labels page's and the API's save
    return services.save_label(project, None, name=name)


def _admin_adds(client, project, name):
    return client.post("/admin/projects/label/add/", {"project": project.pk, "name": name, "order": 0})


@pytest.mark.parametrize("labels", [("billing",), ()], ids=["labels", "no-labels-yet"])
def test_a_look_alike_saved_while_the_admin_adds_a_label_waits_and_is_refused(postgres_only, project_factory,
                                                                             admin_client, labels):
    project = project_factory(f"race-admin-first-{len(labels)}", labels=labels)
    adding, added, go = _held(_admin_adds, admin_client, project, "sp\u200bam")
    saving, saved, waited = _second_writer_waits(_lead_saves, project, "spam")
    go.set()
    adding.join(timeout=20)
    saving.join(timeout=20)

    assert waited, saved  # the lead's save waited for the admin's commit
    assert "error" not in added and added["result"].status_code == 302, added
    assert isinstance(saved.get("error"), ValidationError), saved  # refused, not saved beside it
    assert LOOKS_ALIKE.replace("spam", "sp\\u200bam") in " ".join(saved["error"].messages)
    assert _names(project) == sorted([*labels, "sp\u200bam"])


@pytest.mark.parametrize("labels, admin_name", [(("billing",), "ｓｐａｍ"), ((), "spam")],
                         ids=["look-alike", "same-name-no-labels-yet"])
def test_the_admin_adding_a_look_alike_while_a_lead_saves_waits_and_is_refused(postgres_only, project_factory,
                                                                              admin_client, labels, admin_name):
    """Without labels the names once met only at the unique constraint: the admin's save failed
    its INSERT with an integrity error (a 500)."""
    project = project_factory(f"race-admin-second-{len(labels)}", labels=labels)
    saving, saved, go = _held(_lead_saves, project, "spam")
    adding, added, waited = _second_writer_waits(_admin_adds, admin_client, project, admin_name)
    go.set()
    saving.join(timeout=20)
    adding.join(timeout=20)

    assert waited, added
    assert "error" not in saved, saved
    assert "error" not in added, added  # an IntegrityError here is the 500
    assert added["result"].status_code == 200  # the form again, with the message beside the name
    assert LOOKS_ALIKE in added["result"].content.decode()
    assert _names(project) == sorted([*labels, "spam"])


def test_the_project_page_adding_a_look_alike_row_while_the_labels_page_saves(postgres_only, world, admin_client,
                                                                             client):
    """The labels page adds "spam" while the admin's project page adds a row "ｓｐａｍ": the
    project page's rows did not include a label saved since it was loaded, and did not wait."""
    alpha = world["alpha"]
    client.force_login(world["lead"])
    labels_page = f"/p/{alpha.slug}/settings/labels/"
    page = open_page(client, labels_page, "labels-form")
    page[f"{row_prefix(page, 'labels', '')}-name"] = ["spam"]
    admin_page = _change_form(admin_client, alpha)
    new = f"labels-{admin_page['labels-TOTAL_FORMS']}"
    admin_page.update({"labels-TOTAL_FORMS": str(int(admin_page["labels-TOTAL_FORMS"]) + 1),
                       f"{new}-name": "ｓｐａｍ", f"{new}-order": "0", f"{new}-project": str(alpha.pk)})

    saving, saved, go = _held(client.post, labels_page, page)
    posting, posted, waited = _second_writer_waits(admin_client.post, f"/admin/projects/project/{alpha.pk}/change/",
                                                   admin_page)
    go.set()
    saving.join(timeout=20)
    posting.join(timeout=20)

    assert waited, posted
    assert "error" not in saved and saved["result"].status_code == 302, saved
    assert "error" not in posted and posted["result"].status_code == 200, posted
    assert LOOKS_ALIKE in posted["result"].content.decode()
    assert _names(alpha) == ["billing", "fraud", "login", "spam"]


def test_the_admin_deleting_a_label_while_an_answer_is_stored_on_it(postgres_only, project_factory, make_user,
                                                                    admin_client):
    """The answer holds its label (FOR KEY SHARE) while it is stored. The deletion looked for
    answers before the answer committed, then deleted the label once it had: the commit failed on
    the answer's foreign key (a 500). Now it finds the answer and refuses."""
    project = project_factory("race-admin-delete")
    fraud = project.labels.get(name="fraud")
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 1)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]

    answering, answered, go = _held(
        lambda: answers.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=lease.pk,
                                      label_id=fraud.pk),
        table=Annotation._meta.db_table)
    deleting, deleted, waited = _second_writer_waits(admin_client.post, f"/admin/projects/label/{fraud.pk}/delete/",
                                                     {"post": "yes"})
    go.set()
    answering.join(timeout=20)
    deleting.join(timeout=20)

    assert waited, deleted
    assert "error" not in answered, answered
    assert "error" not in deleted, deleted  # an IntegrityError here is the 500
    assert deleted["result"].status_code == 200
    assert "Cannot delete label" in deleted["result"].content.decode()
    assert Annotation.objects.filter(label=fraud).count() == 1
    assert Label.objects.filter(pk=fraud.pk).exists()
