"""A fine label added (or moved) under a parent label while another request deletes that parent,
on two real PostgreSQL connections: never a 500 from the foreign key failing at commit. The save
holds the parent's row (as answers hold their label), so either the delete waits and finds the
fine label under the parent (400, in use), or the save waits and is refused naming the field
``parent`` (400). Each race is made deterministic as in test_concurrency_races: one side is held
inside its transaction right after the statement that matters until the other waits on a lock."""
import pytest
from django.core.exceptions import ValidationError

from labeling.projects import services
from labeling.projects.models import Label, Membership

from .test_annotation_helpers import add_member
from .test_concurrency_races import Hold, api_as, race, response

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def taxonomy(postgres_only, project_factory, make_user):
    project = project_factory("parent-race", labels=("billing", "login"))
    lead = add_member(make_user, project, "lena", Membership.LEAD)
    parent = Label.objects.create(project=project, name="Refunds", order=10)
    return project, lead, parent


def delete_call(project, lead, label):
    return lambda: api_as(lead).delete(f"/api/projects/{project.slug}/labels/{label.pk}/")


def add_call(project, lead, parent):
    return lambda: api_as(lead).post(f"/api/projects/{project.slug}/labels/",
                                     {"name": "partial refund", "parent": parent.pk}, format="json")


def move_call(project, lead, label, parent):
    return lambda: api_as(lead).patch(f"/api/projects/{project.slug}/labels/{label.pk}/",
                                      {"parent": parent.pk}, format="json")


@pytest.mark.parametrize("write", ["add", "move"])
def test_a_fine_label_saved_while_its_parent_is_deleted_is_refused_naming_the_parent(taxonomy, write):
    project, lead, parent = taxonomy
    login = Label.objects.get(project=project, name="login")
    saving = add_call(project, lead, parent) if write == "add" else move_call(project, lead, login, parent)
    # The parent is deleted but not committed when the save comes: the save waits on its row, then
    # finds it gone (before: the insert went through and its foreign key failed the commit, a 500).
    deleted, saved, waited = race(Hold('DELETE FROM "projects_label"'), delete_call(project, lead, parent), saving)
    (d_status, d_body), (s_status, s_body) = response(deleted), response(saved)
    assert waited and d_status == 204, d_body
    assert s_status == 400, s_body
    assert list(s_body) == ["parent"], s_body
    assert "“Refunds” was deleted meanwhile" in s_body["parent"][0]
    assert not Label.objects.filter(pk=parent.pk).exists()
    assert not Label.objects.filter(project=project, name="partial refund").exists()
    login.refresh_from_db()
    assert login.parent_id is None


def test_deleting_a_parent_while_a_fine_label_is_added_under_it_finds_it_in_use(taxonomy):
    project, lead, parent = taxonomy
    # The fine label is inserted but not committed when the delete comes: the delete waits for it,
    # then finds it under the parent (before: the delete went through and the insert's foreign key
    # failed at commit, a 500).
    added, deleted, waited = race(Hold('INSERT INTO "projects_label"'), add_call(project, lead, parent),
                                  delete_call(project, lead, parent))
    (a_status, a_body), (d_status, d_body) = response(added), response(deleted)
    assert waited and a_status == 201, a_body
    assert d_status == 400, d_body
    assert "“Refunds” is in use (fine labels refer to it)" in str(d_body)
    fine = Label.objects.get(project=project, name="partial refund")
    assert fine.parent_id == parent.pk and Label.objects.filter(pk=parent.pk).exists()


def test_the_labels_page_saving_a_fine_label_under_a_parent_deleted_meanwhile(taxonomy):
    project, lead, parent = taxonomy
    row = {"label": None, "name": "partial refund", "hotkey": "", "parent": parent, "description": ""}
    deleted, saved, waited = race(Hold('DELETE FROM "projects_label"'), delete_call(project, lead, parent),
                                  lambda: services.save_labels(project, [row]))
    d_status, d_body = response(deleted)
    assert waited and d_status == 204, d_body
    error = saved.get("error")
    assert isinstance(error, ValidationError), saved
    assert error.message_dict == {"parent": ["The parent label “Refunds” was deleted meanwhile; nothing was saved."]}
    assert not Label.objects.filter(project=project, name="partial refund").exists()
