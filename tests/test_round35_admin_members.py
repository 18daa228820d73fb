"""The Django admin keeps the counters and rules the product keeps for people: a user deleted in
the admin (or anywhere) gives back the slots of their leases and answers; leases and answers are
view-only in the admin; removing a member there gives their leases back at once; and no admin
path leaves a project without a lead (refused with a message, nothing saved)."""
import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment
from labeling.annotations.selectors import wave_progress
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_settings_pages_stale_edits import open_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def leave(project_factory, make_user):
    project = project_factory("leave", labels=("billing", "login", "fraud"))
    project.batch_size = 3
    project.save()
    make_open_wave(project, 4)
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    return {"project": project, "lena": lena, "ann": add_member(make_user, project, "ann"),
            "bob": add_member(make_user, project, "bob")}


def _slots():
    return sorted(WaveItem.objects.values_list("slots_taken", "slots_done"))


def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("path", ["admin", "shell"])
def test_a_deleted_user_gives_back_the_slots_of_their_leases_and_keeps_those_of_their_answers(leave, admin_client, path):
    project, ann, bob = leave["project"], leave["ann"], leave["bob"]
    leased = leasing.lease_batch(project, ann).assignments
    assert len(leased) == 3
    answer(project, ann, leased[0], project.labels.get(name="billing"))
    answer(project, ann, leased[1], None, skipped=True, skip_reason="unclear")
    assert _slots() == [(0, 0), (1, 0), (1, 1), (1, 1)]
    if path == "admin":
        assert admin_client.post(f"/admin/auth/user/{ann.pk}/delete/", {"post": "yes"}).status_code == 302
    else:
        get_user_model().objects.get(pk=ann.pk).delete()
    # The lease goes; the answered and skipped assignments stay, without their annotator, so each
    # answer keeps the wave pick that brought it.
    assert sorted(Assignment.objects.values_list("annotator", "state")) == [(None, Assignment.DONE),
                                                                           (None, Assignment.SKIPPED)]
    # The lease's slot goes back; the answer's and the skip's stay taken and done, as the answers stay.
    assert _slots() == [(0, 0), (0, 0), (1, 1), (1, 1)] and wave_progress(project)["leased"] == 0
    assert Annotation.objects.filter(annotator__isnull=True).count() == 2  # the answers stay, as history
    assert len(leasing.lease_batch(project, bob).assignments) == 2


def test_leases_and_answers_are_view_only_in_the_admin(leave, admin_client):
    project, ann = leave["project"], leave["ann"]
    lease = leasing.lease_batch(project, ann).assignments[0]
    given = answer(project, ann, lease, project.labels.get(name="billing")).annotation
    for kind, row in (("assignment", lease), ("annotation", given)):
        url = f"/admin/annotations/{kind}/{row.pk}/"
        assert admin_client.get(f"{url}change/").status_code == 200  # shown, read-only
        assert admin_client.post(f"{url}change/", {"state": "expired", "undone": "on"}).status_code == 403
        assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
        assert admin_client.get(f"/admin/annotations/{kind}/add/").status_code == 403
        listing = admin_client.get(f"/admin/annotations/{kind}/").content.decode()
        assert "delete_selected" not in listing
    assert admin_client.post("/admin/annotations/assignment/", {
        "action": "delete_selected", "_selected_action": [lease.pk], "post": "yes"}).status_code in (200, 302)
    assert Assignment.objects.filter(pk=lease.pk, state=Assignment.DONE).exists()
    assert _slots().count((1, 1)) == 1


def test_removing_a_member_in_the_admin_gives_their_leases_back(leave, admin_client):
    project, ann, bob = leave["project"], leave["ann"], leave["bob"]
    assert len(leasing.lease_batch(project, ann).assignments) == 3
    membership = Membership.objects.get(project=project, user=ann)
    assert admin_client.post(f"/admin/projects/membership/{membership.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert len(leasing.lease_batch(project, bob).assignments) == 3


def test_removing_members_in_bulk_or_on_the_project_page_gives_their_leases_back(leave, make_user, admin_client):
    project, ann, bob = leave["project"], leave["ann"], leave["bob"]
    cat = add_member(make_user, project, "cat")
    assert len(leasing.lease_batch(project, ann).assignments) == 3
    ann_m = Membership.objects.get(project=project, user=ann)
    response = admin_client.post("/admin/projects/membership/", {
        "action": "delete_selected", "_selected_action": [ann_m.pk], "post": "yes"})
    assert response.status_code == 302 and not Membership.objects.filter(pk=ann_m.pk).exists()
    assert len(leasing.lease_batch(project, bob).assignments) == 3  # ann's three, given back

    url = f"/admin/projects/project/{project.pk}/change/"
    page = open_page(admin_client, url, "project_form")
    row = next(key[:-len("-id")] for key, values in page.items()
               if key.startswith("memberships-") and key.endswith("-id")
               and values == [str(Membership.objects.get(project=project, user=bob).pk)])
    page[f"{row}-DELETE"] = ["on"]
    assert admin_client.post(url, page).status_code == 302
    assert not Membership.objects.filter(project=project, user=bob).exists()
    assert len(leasing.lease_batch(project, cat).assignments) == 3  # bob's three back (else only the fourth item)


def test_the_admin_keeps_a_projects_last_lead(leave, admin_client):
    project, lena = leave["project"], leave["lena"]
    lead = Membership.objects.get(project=project, user=lena)
    url = f"/admin/projects/membership/{lead.pk}/change/"
    page = open_page(admin_client, url, "membership_form")
    page["role"] = ["annotator"]
    response = admin_client.post(url, page)
    assert response.status_code == 200 and "A project keeps at least one lead" in response.content.decode()

    response = admin_client.post(f"/admin/projects/membership/{lead.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200 and "A project keeps at least one lead" in response.content.decode()

    everyone = list(Membership.objects.filter(project=project).values_list("pk", flat=True))
    response = admin_client.post("/admin/projects/membership/", {
        "action": "delete_selected", "_selected_action": everyone, "post": "yes"})
    assert "A project keeps at least one lead" in response.content.decode()
    assert Membership.objects.filter(project=project).count() == 3

    project_url = f"/admin/projects/project/{project.pk}/change/"
    page = open_page(admin_client, project_url, "project_form")
    row = next(key[:-len("-id")] for key, values in page.items()
               if key.startswith("memberships-") and key.endswith("-id") and values == [str(lead.pk)])
    for change in ({f"{row}-role": ["annotator"]}, {f"{row}-DELETE": ["on"]}):
        response = admin_client.post(project_url, {**page, **change, "description": ["not saved"]})
        assert response.status_code == 200 and "A project keeps at least one lead" in response.content.decode()
    lead.refresh_from_db()
    project.refresh_from_db()
    assert lead.role == Membership.LEAD and project.description == ""

    # Another lead first, then the old one may step down, on one page.
    bob_row = next(key[:-len("-id")] for key, values in page.items() if key.startswith("memberships-")
                   and key.endswith("-id") and values == [str(Membership.objects.get(user=leave["bob"]).pk)])
    response = admin_client.post(project_url, {**page, f"{row}-role": ["annotator"], f"{bob_row}-role": ["lead"]})
    assert response.status_code == 302, _messages(response)
    assert dict(Membership.objects.filter(project=project).values_list("user__username", "role")) == {
        "lena": "annotator", "ann": "annotator", "bob": "lead"}
