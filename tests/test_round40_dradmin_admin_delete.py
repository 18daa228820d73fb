"""Deleting items in the Django admin ("Delete selected items" on the item list), as a site admin
clears out a bad import: the open wave that held them."""
import pytest

from labeling.annotations import leasing
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def _delete_selected(client, ids):
    return client.post("/admin/items/item/", {"action": "delete_selected", "_selected_action": [str(i) for i in ids],
                                              "post": "yes"})


def test_deleting_every_item_of_an_open_wave_in_the_admin_leaves_no_empty_open_wave(
        admin_client, project_factory, make_user, django_capture_on_commit_callbacks):
    """An open wave of 3 picks, one answered; the admin deletes the 3 items (a bad import). The wave
    has no pick left to ask about: it must not stay open with nothing in it (annotators are told
    "No wave is open" while the lead's pages show wave 1 open, and no retrain ever comes)."""
    project = project_factory("dradm-del", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    wave, items = make_open_wave(project, 3, shuffle=False)
    add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    given = leasing.lease_batch(project, bob).assignments
    answer(project, bob, given[0], project.labels.get(name="billing"))
    with django_capture_on_commit_callbacks(execute=True):
        response = _delete_selected(admin_client, [item.pk for item in items])
    assert response.status_code == 302
    assert not WaveItem.objects.filter(wave=wave).exists()
    wave.refresh_from_db()
    assert wave.state != Wave.OPEN, "the open wave has no picks left and stays open for good"

