"""What a wave says after items are deleted in the Django admin (its picks, leases and answers go
with them: nothing is kept, and its size shrinks by every deleted pick), and why a wave planned
smaller than asked for is short, in the notes of the plan API's reply."""
import pytest

from labeling.annotations import leasing
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave
from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def _delete_selected(client, ids):
    return client.post("/admin/items/item/", {"action": "delete_selected", "_selected_action": [str(i) for i in ids],
                                              "post": "yes"})


def _listed(client, project):
    return client.get(f"/api/projects/{project.slug}/waves/").json()["results"][0]


def test_items_deleted_with_delete_selected_are_said_deleted_and_leave_the_size(
        project_factory, make_user, client, django_capture_on_commit_callbacks):
    """bob holds a batch of 4 of the open wave's 8 picks and answered one; the admin deletes (the
    list's "Delete selected") the answered pick, a leased one and two nobody holds, then the other 4.
    Before: size 8 / total 4 and "2 excluded items kept for the answers already given or leased",
    then size 4 / total 0 with "4 excluded items taken out; 4 excluded items kept …"."""
    project = project_factory("wnotes-del")
    project.batch_size = 4
    project.save()
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    wave, items = make_open_wave(project, 8)
    held = leasing.lease_batch(project, bob).assignments
    answer(project, bob, held[0], project.labels.get(name="billing"))
    held_ids = {a.wave_item.item_id for a in held[:2]}
    free_ids = [item.pk for item in items if item.pk not in {a.wave_item.item_id for a in held}][:2]
    client.force_login(make_user("root", superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete_selected(client, sorted(held_ids) + free_ids).status_code == 302
    assert WaveItem.objects.filter(wave=wave).count() == 4

    client.force_login(lena)
    listed = _listed(client, project)
    assert listed["state"] == Wave.OPEN
    assert (listed["size"], listed["progress"]["total"]) == (4, 4)
    assert listed["notes"] == ["4 items deleted, with their answers and leases"]

    rest = list(WaveItem.objects.filter(wave=wave).values_list("item_id", flat=True))
    client.force_login(make_user("root2", superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete_selected(client, rest).status_code == 302
    client.force_login(lena)
    listed = _listed(client, project)
    assert listed["state"] != Wave.OPEN  # nothing left to ask: the loop closed it
    assert (listed["size"], listed["progress"]["total"]) == (0, 0)
    assert listed["notes"] == ["8 items deleted, with their answers and leases"]
    page = client.get(f"/p/{project.slug}/waves/").content.decode()
    assert "8 items deleted" in page and "excluded" not in page.split('id="wave-rows"')[1].split("</tbody>")[0]


def test_an_item_deleted_from_a_closed_wave_leaves_its_size(project_factory, make_user, client):
    """A closed wave's answered pick deleted with its item: Size followed the progress total."""
    project = project_factory("wnotes-closed")
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave, items = make_open_wave(project, 3, state=Wave.CLOSED)
    client.force_login(make_user("root", superuser=True))
    assert client.post(f"/admin/items/item/{items[0].pk}/delete/", {"post": "yes"}).status_code == 302
    client.force_login(lena)
    listed = _listed(client, project)
    assert (listed["size"], listed["progress"]["total"]) == (2, 2)
    assert listed["notes"] == ["1 item deleted, with its answers and leases"]


def test_the_plan_api_reply_says_why_the_wave_is_short(project_factory, make_user, client, eager_tasks):
    """Wave size 1000 on a pool of 8 items: POST waves/plan/ answers with the wave, whose notes say
    it is 8 of the 1000 asked for and that the pool ran out (before: notes [])."""
    project, _ = build_project(project_factory, slug="wnotes-short", n_items=8, n_labeled=0, wave_size=1000,
                               batch_size=20)
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    reply = client.post(f"/api/projects/{project.slug}/waves/plan/")
    assert reply.status_code == 201, reply.content
    short = [note for note in reply.json()["notes"] if "asked for" in note]
    assert short and short[0].startswith(f"planned with {reply.json()['size']} of the 1000 items asked for: "
                                         "the pool ran out"), reply.json()["notes"]


def test_a_wave_asking_fewer_answers_than_the_overlap_says_so(project_factory, make_user, client, eager_tasks):
    """Label budget 2, overlap 3, every pick double-labeled: the one pick that fits asks 2 answers,
    not 3. The waves page's Notes and the API say so (report["overlap_limited"]; before: nothing)."""
    project, _ = build_project(project_factory, slug="wnotes-overlap", n_items=30, n_labeled=0, wave_size=20,
                               batch_size=20, label_budget=2, overlap=3, double_label_share=1.0)
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    assert client.post(f"/api/projects/{project.slug}/waves/plan/").status_code == 201
    notes = _listed(client, project)["notes"]
    assert any(note.startswith("fewer answers than the overlap asked: 1 of the 1 picks drawn for double labeling "
                               "ask fewer than 3 answers") for note in notes), notes
    assert any("1 of the 20 items asked for: the label budget left fits 1" in note for note in notes), notes
    page = client.get(f"/p/{project.slug}/waves/").content.decode()
    assert "ask fewer than 3 answers" in page
