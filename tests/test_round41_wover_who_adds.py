"""Who adds a member: the home page of an admin with no project points to "New project", and a lead
who is the project's only answerer is told to add an annotator herself, not to ask a lead."""
import re

import pytest

from labeling.annotations import leasing, waiting
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, answer, make_open_wave


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.django_db
def test_an_admin_with_no_project_is_pointed_to_new_project(make_user, client):
    client.force_login(make_user("boss", superuser=True))
    page = _text(client.get("/"))
    assert "New project" in page
    assert "Ask a project lead to add you." not in page
    assert "You have no project yet: start one with New project" in page
    client.force_login(make_user("nobody"))
    page = _text(client.get("/"))
    assert "New project" not in page and "Ask a project lead to add you." in page


def _answer_all(project, user):
    label = project.labels.filter(is_other=False).order_by("pk").first()
    while leased := leasing.lease_batch(project, user).assignments:
        for a in leased:
            answer(project, user, a, label)


@pytest.mark.django_db
def test_a_sole_lead_is_told_to_add_an_annotator_herself(project_factory, make_user):
    project = project_factory("solo", labels=("billing", "login"))
    project.batch_size = 5
    project.overlap = 2
    project.save()
    make_open_wave(project, 2, double={0})
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    _answer_all(project, lead)
    message = waiting.why_waiting(project, lead)["message"]
    assert "No other member of the project can answer them." in message
    assert "Ask a lead" not in message
    assert "Add another annotator on the project's members page." in message


@pytest.mark.django_db
def test_a_lead_short_of_members_adds_one_and_an_annotator_asks(project_factory, make_user):
    project = project_factory("three", labels=("billing", "login"))
    project.batch_size = 5
    project.overlap = 3
    project.save()
    make_open_wave(project, 2, double={0})
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    _answer_all(project, lead)
    _answer_all(project, ann)
    for_lead = waiting.why_waiting(project, lead)["message"]
    assert "3 different people are needed" in for_lead and "Ask a lead" not in for_lead
    assert "Add another annotator on the project's members page." in for_lead
    assert "Ask a lead to add another annotator" in waiting.why_waiting(project, ann)["message"]
