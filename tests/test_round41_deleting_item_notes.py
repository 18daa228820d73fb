"""Deleting items in the Django admin (ItemAdmin.delete_model / delete_queryset) first excludes them
(withdraw_from_waves → bulk.apply "exclude"), which records a held pick (answered or leased) in the
wave's report as "kept for the answers already given or leased"; then the cascade deletes the item,
its pick, its lease and its answer. The waves page and API still say the items were kept."""
import pytest

from labeling.annotations import leasing
from labeling.items.models import Item
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def test_items_deleted_in_the_admin_are_not_said_to_be_kept(project_factory, make_user, client):
    project = project_factory("gone-items")
    project.batch_size = 4
    project.save()
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    wave, _ = make_open_wave(project, 8)
    held = leasing.lease_batch(project, bob).assignments
    answer(project, bob, held[0], project.labels.get(name="billing"))
    answered_item, leased_item = held[0].wave_item.item_id, held[1].wave_item.item_id

    client.force_login(make_user("root", superuser=True))
    for pk in (answered_item, leased_item):
        assert client.post(f"/admin/items/item/{pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Item.objects.filter(pk__in=[answered_item, leased_item]).exists()
    assert WaveItem.objects.filter(wave=wave).count() == 6

    client.force_login(lena)
    listed = client.get(f"/api/projects/{project.slug}/waves/").json()["results"][0]
    assert listed["progress"]["total"] == 6
    notes = " ".join(listed["notes"])
    # The two items, their pick, lease and answer are gone; nothing was kept for any answer.
    assert "kept for the answers" not in notes, listed
    assert listed["size"] == 6, "the waves page's Size column still counts the deleted picks"
