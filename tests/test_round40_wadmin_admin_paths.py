"""The Django admin's other ways to the same writes: "delete selected" on the items list, a label's
add page, and an item page ticking both "Excluded" and "Pinned for next wave"."""
import pytest

from labeling.annotations import leasing
from labeling.items.models import Item
from labeling.projects.models import Label
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_round40_djadmin_fixes import _admin_form

pytestmark = pytest.mark.django_db


def test_delete_selected_on_an_open_waves_last_unanswered_item_closes_the_wave(
        admin_client, project_factory, make_user, django_capture_on_commit_callbacks):
    project = project_factory("delsel", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    wave, items = make_open_wave(project, 3, shuffle=False)
    bob = add_member(make_user, project, "bob")
    billing = project.labels.get(name="billing")
    for assignment in leasing.lease_batch(project, bob).assignments:
        if assignment.wave_item.item_id != items[2].pk:
            answer(project, bob, assignment, billing)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/items/item/", {
            "action": "delete_selected", "_selected_action": [str(items[2].pk)], "post": "yes"})
    assert response.status_code == 302
    assert not Item.objects.filter(pk=items[2].pk).exists()
    assert not WaveItem.objects.filter(item_id=items[2].pk).exists()
    assert Wave.objects.get(pk=wave.pk).state != Wave.OPEN, "the wave's picks are all answered, yet it stays open"


def test_the_label_add_page_refuses_a_hotkey_another_label_has(admin_client, project_factory):
    project = project_factory("hk-add", labels=("billing", "login"))
    assert project.labels.get(name="billing").hotkey == "1"
    response = admin_client.post("/admin/projects/label/add/", {
        "project": str(project.pk), "name": "refund", "description": "", "hotkey": "1", "parent": "",
        "precision_target": "", "recall_target": "", "order": "0"})
    assert response.status_code == 200, "the add page saved a hotkey billing already has"
    assert "Hotkeys must be unique" in response.content.decode()
    assert not Label.objects.filter(project=project, name="refund").exists()


def test_an_item_page_ticking_both_excluded_and_pinned_is_refused(admin_client, project_factory):
    project = project_factory("expin", labels=("billing", "login"))
    _, items = make_open_wave(project, 2, shuffle=False)
    url = f"/admin/items/item/{items[0].pk}/change/"
    response = admin_client.post(url, {**_admin_form(admin_client, url), "excluded": "on",
                                       "pinned_for_next_wave": "on"})
    assert response.status_code == 200
    assert "An excluded item cannot also wait for the next wave" in response.content.decode()
    stored = Item.objects.get(pk=items[0].pk)
    assert (stored.excluded, stored.pinned_for_next_wave) == (False, False)
    assert WaveItem.objects.filter(item_id=items[0].pk).exists()
