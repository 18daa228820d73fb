"""What an admin breaks by correcting things in the Django admin on a live project: the admin's forms
must keep what the product's own pages keep (the labels page's checks, the item browser's exclusion)."""
import pytest

from labeling.annotations import leasing
from labeling.items.models import Item
from labeling.projects.models import Label, Membership
from labeling.waves.models import Wave, WaveItem

from .test_admin_label_rows import _change_form, _Form, _row_prefix
from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def _admin_form(client, url) -> dict:
    page = client.get(url)
    assert page.status_code == 200
    parser = _Form()
    parser.feed(page.content.decode())
    return parser.data


# --- labels -----------------------------------------------------------------------------------------

def test_the_label_admin_refuses_a_hotkey_another_label_has(admin_client, project_factory):
    project = project_factory("hk-own", labels=("billing", "login"))
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    assert billing.hotkey == "1"
    url = f"/admin/projects/label/{login.pk}/change/"
    data = {**_admin_form(admin_client, url), "hotkey": "1"}
    answer_ = admin_client.post(url, data)
    assert answer_.status_code == 200, "the label's page saved a hotkey billing already has"
    assert "Hotkeys must be unique" in answer_.content.decode()
    login.refresh_from_db()
    assert login.hotkey == "2"


def test_the_project_pages_label_rows_refuse_a_shared_hotkey(admin_client, project_factory):
    project = project_factory("hk-rows", labels=("billing", "login"))
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, login)}-hotkey"] = billing.hotkey
    answer_ = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer_.status_code == 200, "the project page saved two labels with one hotkey"
    assert "Hotkeys must be unique" in answer_.content.decode()
    login.refresh_from_db()
    assert login.hotkey == "2"


@pytest.mark.parametrize("change", ["own parent", "third level", "Other with fine labels", "under the Other label"])
def test_the_label_admin_checks_the_taxonomy_as_the_labels_page_does(admin_client, project_factory, change):
    """The labels page, the API and the project page's label rows refuse each of these
    (labeling.projects.taxonomy.label_set_errors); a label's own admin page checks the label alone
    (Label.clean) and saved them. billing has the fine label refund."""
    project = project_factory("tax", labels=("billing", "refund", "login", "none"))
    billing, refund, login, none = (project.labels.get(name=n) for n in ("billing", "refund", "login", "none"))
    Label.objects.filter(pk=refund.pk).update(parent=billing, hotkey="")
    Label.objects.filter(pk__in=[billing.pk, none.pk]).update(hotkey="")
    if change == "under the Other label":  # (with an Other already, ticking a second one is D1's 500)
        Label.objects.filter(pk=none.pk).update(is_other=True)
    edited, posted = {
        "own parent": (login, {"parent": str(login.pk)}),
        "third level": (billing, {"parent": str(login.pk)}),  # login → billing → refund
        "Other with fine labels": (billing, {"is_other": "on"}),
        "under the Other label": (login, {"parent": str(none.pk), "hotkey": ""}),
    }[change]
    before = list(Label.objects.filter(project=project).order_by("pk").values_list("name", "parent", "is_other"))
    url = f"/admin/projects/label/{edited.pk}/change/"
    response = admin_client.post(url, {**_admin_form(admin_client, url), **posted})
    after = list(Label.objects.filter(project=project).order_by("pk").values_list("name", "parent", "is_other"))
    assert after == before, f"the label's admin page saved a taxonomy the labels page refuses ({change})"
    assert response.status_code == 200


# --- items ------------------------------------------------------------------------------------------

@pytest.fixture
def wave3(project_factory, make_user):
    project = project_factory("exadm", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    wave, items = make_open_wave(project, 3, shuffle=False)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    return {"project": project, "wave": wave, "items": items, "lead": lead, "bob": bob}


def test_excluding_an_item_in_the_admin_takes_it_out_of_the_open_wave(admin_client, wave3):
    """docs/loop.md "Excluded items": nobody is asked about an excluded item. The item browser's
    exclusion takes its unheld pick out of the open wave; the admin's "Excluded" box only sets the flag."""
    item = wave3["items"][0]
    url = f"/admin/items/item/{item.pk}/change/"
    data = {**_admin_form(admin_client, url), "excluded": "on"}
    assert admin_client.post(url, data).status_code == 302
    assert Item.objects.get(pk=item.pk).excluded
    given = [a.wave_item.item_id for a in leasing.lease_batch(wave3["project"], wave3["bob"]).assignments]
    assert item.pk not in given, "an item excluded in the admin was handed to an annotator"


def test_deleting_an_open_waves_last_unanswered_item_in_the_admin_closes_the_wave(admin_client, wave3,
                                                                                  django_capture_on_commit_callbacks):
    project, bob, items = wave3["project"], wave3["bob"], wave3["items"]
    billing = project.labels.get(name="billing")
    given = leasing.lease_batch(project, bob).assignments
    for assignment in given:
        if assignment.wave_item.item_id != items[2].pk:
            answer(project, bob, assignment, billing)
    # the annotator lets the last one go (or it expires); the admin deletes that item (a duplicate, say)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = admin_client.post(f"/admin/items/item/{items[2].pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not WaveItem.objects.filter(item_id=items[2].pk).exists()
    wave = Wave.objects.get(pk=wave3["wave"].pk)
    assert wave.state != Wave.OPEN, "every pick left is answered, yet the wave stays open and nothing retrains"


def test_pinning_an_answered_item_in_the_admin_is_refused(admin_client, wave3):
    """The item browser refuses to pin an answered item (the planner never asks about it again,
    waves.selectors.pinned_items); the admin's "Pinned for next wave" box stores it, and the item
    browser then lists the item as waiting for the next wave, which never takes it."""
    project, bob, items = wave3["project"], wave3["bob"], wave3["items"]
    billing = project.labels.get(name="billing")
    for assignment in leasing.lease_batch(project, bob).assignments:
        answer(project, bob, assignment, billing)
    item = items[0]
    url = f"/admin/items/item/{item.pk}/change/"
    admin_client.post(url, {**_admin_form(admin_client, url), "pinned_for_next_wave": "on"})
    assert not Item.objects.get(pk=item.pk).pinned_for_next_wave, \
        "an answered item was pinned for a next wave that never takes it"


# --- item metadata ----------------------------------------------------------------------------------

@pytest.mark.parametrize("metadata", ['{" ": "note"}', '{"": "note"}', '{"big": "' + "a" * (65 * 1024) + '"}'])
def test_the_item_admin_refuses_metadata_an_import_refuses(admin_client, wave3, metadata):
    """docs/export.md: an export imports back with its metadata. Metadata with a blank key, or over
    LONGTAIL_MAX_METADATA_BYTES, is refused by every import, so a label export holding one such item
    is refused as a whole by the importer; the admin stored it."""
    item = wave3["items"][0]
    url = f"/admin/items/item/{item.pk}/change/"
    response = admin_client.post(url, {**_admin_form(admin_client, url), "metadata": metadata})
    assert list(Item.objects.get(pk=item.pk).metadata) == [], "the admin stored metadata no import accepts"
    assert response.status_code == 200


def test_an_export_after_an_admin_metadata_edit_imports_back(admin_client, wave3, project_factory, tmp_path):
    from labeling.export import services as export
    from labeling.items.importer import run_import

    project, bob, items = wave3["project"], wave3["bob"], wave3["items"]
    billing = project.labels.get(name="billing")
    for assignment in leasing.lease_batch(project, bob).assignments:
        answer(project, bob, assignment, billing)
    url = f"/admin/items/item/{items[0].pk}/change/"
    admin_client.post(url, {**_admin_form(admin_client, url), "metadata": '{" ": "note"}'})
    exported = tmp_path / "labels.jsonl"
    exported.write_text("".join(export.stream_export(project, "jsonl")), encoding="utf-8")
    copy = project_factory("exadm-copy", labels=("billing", "login"))
    result = run_import(copy, exported)
    assert result.ok, f"the project's own export is refused on import: {result.errors}"
    assert copy.items.count() == 3


# --- a label's own admin page: the project is read-only there, and the constraints on it went unchecked

@pytest.mark.parametrize(("posted", "said"), [
    ({"name": "billing"}, "billing"),  # an existing name: label_unique_name
    ({"name": "Billing"}, "billing"),  # a look-alike (Label.validate_constraints)
    ({"is_other": "on", "hotkey": ""}, "Other"),  # a second top-level Other: label_one_other
])
def test_the_label_admin_refuses_what_the_labels_constraints_refuse(admin_client, project_factory, posted, said):
    project = project_factory("cons", labels=("billing", "login", "none"))
    Label.objects.filter(project=project, name="none").update(is_other=True, hotkey="")
    login = project.labels.get(name="login")
    url = f"/admin/projects/label/{login.pk}/change/"
    response = admin_client.post(url, {**_admin_form(admin_client, url), **posted})  # a 500 raises here
    login.refresh_from_db()
    assert (login.name, login.is_other) == ("login", False), f"the label's page saved {posted}"
    assert response.status_code == 200 and said in response.content.decode()


def test_the_item_admin_refuses_another_items_external_id(admin_client, wave3):
    """item_unique_external_id is on (project, external_id); the project is read-only on the item's
    page, so the form skipped the constraint and the save failed in the database (a 500)."""
    first, second = wave3["items"][:2]
    Item.objects.filter(pk=first.pk).update(external_id="T-1")
    url = f"/admin/items/item/{second.pk}/change/"
    response = admin_client.post(url, {**_admin_form(admin_client, url), "external_id": "T-1"})  # a 500 raises here
    assert response.status_code == 200
    assert Item.objects.get(pk=second.pk).external_id is None
