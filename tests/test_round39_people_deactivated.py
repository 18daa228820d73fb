"""An annotator who leaves is often deactivated rather than deleted (Django's "Active" box on the
admin's user page: their answers keep their name). A deactivated user can no longer sign in, nor
use a token or an open session, so they can no longer answer: their leases must not keep items from
the others, and they must not be counted (or named) as someone who can give an item its second answer."""
import pytest
from django.contrib.auth import get_user_model

from labeling.annotations import leasing
from labeling.annotations.waiting import members_short, why_waiting
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def deactivate(user):
    user = get_user_model().objects.get(pk=user.pk)
    user.is_active = False
    user.save()


def test_a_deactivated_annotators_leases_go_to_the_others(project_factory, make_user, client):
    project = project_factory("gone-quiet", labels=("billing", "login"))
    project.batch_size = 4
    project.save()
    make_open_wave(project, 4)  # one batch: while bob holds it, nothing is left for anyone else
    add_member(make_user, project, "lena", role=Membership.LEAD)
    bob, cat = add_member(make_user, project, "bob"), add_member(make_user, project, "cat")
    assert len(leasing.lease_batch(project, bob).assignments) == 4

    deactivate(bob)  # bob left the team
    # He can no longer do anything with those leases: his session and sign-in are refused.
    assert not client.login(username="bob", password="pw-Longtail-123")

    # cat, at work, is handed the items bob can no longer answer, as for a removed member.
    handed = leasing.lease_batch(project, cat).assignments
    waiting = why_waiting(project, cat)
    assert len(handed) == 4, waiting["message"]


def test_a_deactivated_annotator_is_not_counted_as_the_second_answerer(project_factory, make_user, client):
    """A two-person team: the lead and one annotator give the double-labeled items their two
    answers. The annotator leaves and is deactivated: the wave now cannot complete until a lead adds
    someone, and the lead must be told so; the remaining member must not be told the departed one
    can answer."""
    project = project_factory("pair", labels=("billing", "login"))
    project.batch_size, project.overlap = 2, 2
    project.save()
    make_open_wave(project, 2, double=(0, 1), shuffle=False)
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    assert members_short(project) is None  # two members answer: enough for overlap 2

    billing = project.labels.get(name="billing")
    for assignment in leasing.lease_batch(project, lena).assignments:
        answer(project, lena, assignment, billing)
    deactivate(bob)

    client.force_login(lena)
    page = client.get("/p/pair/waves/")
    assert page.status_code == 200
    assert b'id="wave-members-short"' in page.content, "the waves page says nothing though nobody else can answer"
    assert members_short(project)["members"] == 1
    message = why_waiting(project, lena)["message"]
    assert "bob" not in message, message
