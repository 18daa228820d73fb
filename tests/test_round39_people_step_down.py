"""A lead who steps down (makes themselves an annotator) or leaves (removes themselves) on the
members page: the change is saved, and the page they land on says so. It must not be an error
page telling them the project does not exist or that they may not do this."""
import pytest

from labeling.projects.models import Membership

from .test_annotation_helpers import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_leads(project_factory, make_user):
    project = project_factory("steps", labels=("billing", "login"))
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    add_member(make_user, project, "max", role=Membership.LEAD)
    return project, lena


def test_a_lead_who_removes_themselves_is_told_it_was_done(two_leads, client):
    project, lena = two_leads
    client.force_login(lena)
    mine = Membership.objects.get(project=project, user=lena)
    landed = client.post(f"/p/steps/members/{mine.pk}/remove/", follow=True)
    assert not Membership.objects.filter(pk=mine.pk).exists()  # done
    assert landed.status_code == 200, f"landed on {landed.redirect_chain}: {landed.status_code}"
    assert "lena removed from the project" in landed.content.decode()


def test_a_lead_who_steps_down_is_told_it_was_done(two_leads, client):
    project, lena = two_leads
    client.force_login(lena)
    landed = client.post("/p/steps/members/", {"username": "lena", "role": "annotator"}, follow=True)
    assert Membership.objects.get(project=project, user=lena).role == Membership.ANNOTATOR  # done
    assert landed.status_code == 200, f"landed on {landed.redirect_chain}: {landed.status_code}"
    assert "lena is now annotator here" in landed.content.decode()
