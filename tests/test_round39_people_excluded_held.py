"""A lead excludes an item while an annotator holds it: the pick keeps only the slot held, so nobody
else is asked about it, and the wave completes without it once that slot ends (docs/loop.md,
"Excluded items"). When the holder leaves, their slot ends: removed from the project or their
account deleted, the excluded item must not be handed to someone else, and the wave must complete."""
import pytest
from django.contrib.auth import get_user_model

from labeling.annotations import leasing
from labeling.projects.models import Membership
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(project_factory, make_user):
    """A wave of three picks, one batch; bob holds it; the lead excludes the first item."""
    project = project_factory("held", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    wave, items = make_open_wave(project, 3, shuffle=False)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob, cat = add_member(make_user, project, "bob"), add_member(make_user, project, "cat")
    assert len(leasing.lease_batch(project, bob).assignments) == 3
    excluded = api_as(lead).post("/api/projects/held/items/bulk/", {"action": "exclude", "items": [items[0].pk]},
                                 format="json")
    assert excluded.status_code == 200, excluded.content
    return {"project": project, "wave": wave, "items": items, "lead": lead, "bob": bob, "cat": cat}


def _cat_answers_what_she_is_given(held) -> list[int]:
    project, cat = held["project"], held["cat"]
    given = leasing.lease_batch(project, cat).assignments
    for assignment in given:
        answer(project, cat, assignment, project.labels.get(name="billing"))
    return [a.wave_item.item_id for a in given]


@pytest.mark.parametrize("how", ["removed", "deleted", "deleted_in_admin"])
def test_an_excluded_item_is_asked_of_nobody_once_its_holder_leaves(held, how, admin_client):
    items = held["items"]
    if how == "removed":
        membership = Membership.objects.get(project=held["project"], user=held["bob"])
        assert api_as(held["lead"]).delete(f"/api/projects/held/members/{membership.pk}/").status_code == 204
    elif how == "deleted_in_admin":
        deleted = admin_client.post(f"/admin/auth/user/{held['bob'].pk}/delete/", {"post": "yes"})
        assert deleted.status_code == 302
        assert not get_user_model().objects.filter(pk=held["bob"].pk).exists()
    else:
        get_user_model().objects.get(pk=held["bob"].pk).delete()

    given = _cat_answers_what_she_is_given(held)
    assert items[0].pk not in given, "the excluded item was handed to another annotator"
    assert sorted(given) == sorted([items[1].pk, items[2].pk])
    wave = Wave.objects.get(pk=held["wave"].pk)
    assert wave.state != Wave.OPEN, "every pick still asked for is answered, yet the wave stays open"
