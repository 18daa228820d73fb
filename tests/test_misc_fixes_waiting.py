"""What the pages say when double-labeled items wait: the lead's "members short" note counts the
members who may answer and says how many more are needed (not "a second member" whatever the
overlap); the annotator's "nothing is waiting" message names the other members who can answer
(a lead answers too) instead of asking for an annotator the project already has; the demo's
output says who gives the second answers, and that user can lease them."""
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.annotations import leasing, waiting
from labeling.annotations.models import Assignment
from labeling.projects.models import Membership, Project
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, answer, make_open_wave


@pytest.fixture
def project(project_factory):
    p = project_factory("waitp", labels=("billing", "login", "fraud"))
    p.batch_size = 5
    p.save()
    return p


def answer_all(project, user):
    label = project.labels.filter(is_other=False).order_by("pk").first()
    while True:
        leased = leasing.lease_batch(project, user).assignments
        if not leased:
            return
        for a in leased:
            answer(project, user, a, label)


def test_members_short_counts_members_and_says_how_many_more(project, make_user):
    project.overlap = 9
    project.save()
    make_open_wave(project, 10, double=set(range(10)))
    for name in ("ann", "bob", "cy"):
        add_member(make_user, project, name)
    add_member(make_user, project, "lena", role=Membership.LEAD)
    short = waiting.members_short(project)
    assert short["needed"] == 9 and short["members"] == 4 and short["items"] == 10
    assert "needs 5 more members" in short["message"] and "second member" not in short["message"]
    assert "10 items need answers from 9 different people, but the project has 4 members" in short["message"]
    assert "(leads and annotators both answer)" in short["message"]


def test_one_more_member_is_said_in_the_singular(project, make_user):
    project.overlap = 2
    project.save()
    make_open_wave(project, 3, double={0})
    add_member(make_user, project, "ann")
    short = waiting.members_short(project)
    assert "needs a second member:" in short["message"] and "1 item needs answers from 2 different people" in short["message"]


def test_annotator_is_told_the_lead_can_answer_and_the_lead_can(project, make_user):
    project.overlap = 2
    project.save()
    make_open_wave(project, 6, double={0, 1, 2})
    ann = add_member(make_user, project, "ann")
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    answer_all(project, ann)
    client = APIClient()
    client.force_authenticate(ann)
    data = client.post("/api/projects/waitp/batches/", {}, format="json").json()
    message = data["waiting"]["message"]
    assert data["waiting"]["reason"] == "second_annotator"
    assert "3 items of the open wave wait for a second annotator" in message
    # an annotator learns how many can answer, not who: the member list is a lead's (members/ refuses them)
    assert "1 other member of the project can answer them." in message and "lena" not in message
    assert "add an annotator" not in message
    assert waiting.members_short(project) is None
    # What the message says is true: the lead leases exactly the waiting items.
    leased = leasing.lease_batch(project, lena).assignments
    assert sorted(a.wave_item_id for a in leased) == sorted(
        WaveItem.objects.filter(wave__project=project, overlap=2).values_list("pk", flat=True))


def test_a_lone_member_is_told_to_ask_for_an_annotator(project, make_user):
    project.overlap = 2
    project.save()
    make_open_wave(project, 2, double={0})
    ann = add_member(make_user, project, "ann")
    answer_all(project, ann)
    message = waiting.why_waiting(project, ann)["message"]
    assert "1 item of the open wave waits for a second annotator" in message and "answered it already" in message
    assert "No other member of the project can answer them. Ask a lead to add another annotator" in message


def test_overlap_beyond_the_members_names_them_and_asks_for_more(project, make_user):
    project.overlap = 3
    project.save()
    make_open_wave(project, 2, double={0})
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lena", role=Membership.LEAD)
    answer_all(project, ann)
    message = waiting.why_waiting(project, ann)["message"]
    assert "waits for another annotator" in message
    assert "1 other member of the project can answer them, but 3 different people are needed" in message
    assert "Ask a lead to add another annotator" in message


def test_setup_demo_says_who_gives_the_second_answers(db, capsys):
    call_command("setup_demo", "--items", "60", "--password", "demo-pass-123", "--slug", "demo-wait")
    out = capsys.readouterr().out
    project = Project.objects.get(slug="demo-wait")
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    double = wave.picks.filter(overlap__gt=1).count()
    assert double > 0
    assert (f"Wave 1: {double} of its {wave.size} items are double-labeled and need answers from 2 different "
            "people. When annotator runs out of items, sign in as lead (a lead answers too)") in out
    users = {m.user.username: m.user for m in project.memberships.select_related("user")}
    answer_all(project, users["annotator"])
    assert waiting.why_waiting(project, users["annotator"])["waiting_for_others"] == double
    leased = leasing.lease_batch(project, users["lead"]).assignments
    assert len(leased) == double  # the printed lead can give the second answers
    assert not Assignment.objects.filter(annotator=users["lead"], wave_item__overlap=1).exists()
    call_command("setup_demo", "--items", "60", "--password", "demo-pass-123", "--slug", "demo-wait")
    assert "double-labeled" in capsys.readouterr().out  # the note comes with the users on every run
