"""The waves page and the waves API say what happened to a wave after it was planned: items a lead
excluded while it waited (its size shrank with no reason shown before) and why a wave was discarded."""
import pytest

from labeling.projects.models import Membership
from labeling.waves import services
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "notes38"
WAVES = f"/p/{SLUG}/waves/"


def test_exclusions_and_discards_are_shown_per_wave(project_factory, make_user, client):
    project = project_factory(SLUG)
    open_wave, opened = make_open_wave(project, 3, number=1)
    planned, items = make_open_wave(project, 5, number=2, state=Wave.PLANNED)
    lead_user = add_member(make_user, project, "lead38n", role=Membership.LEAD)
    ann = api_as(add_member(make_user, project, "ann38n"))
    held = ann.post(f"/api/projects/{SLUG}/batches/", {}, format="json").json()["items"][0]["item"]
    lead = api_as(lead_user)
    response = lead.post(f"/api/projects/{SLUG}/items/bulk/",
                         {"action": "exclude", "items": [items[0].pk, items[1].pk, held]}, format="json")
    assert response.status_code == 200, response.content

    client.force_login(lead_user)
    page = client.get(WAVES).content.decode()
    rows = page[page.index('id="wave-rows"'):]
    wave2 = rows[rows.index("<td>2</td>"):].split("</tr>")[0]
    wave1 = rows[rows.index("<td>1</td>"):].split("</tr>")[0]
    assert "2 excluded items taken out" in wave2 and "<td>3</td>" in wave2  # size 5 - 2
    assert "1 excluded item kept for the answers already given or leased" in wave1

    listed = {w["number"]: w for w in lead.get(f"/api/projects/{SLUG}/waves/").json()["results"]}
    assert listed[2]["notes"] == ["2 excluded items taken out"]

    services.close_wave(open_wave)  # the loop has nothing to do here: wave 2 waits, planned
    discarded = services.close_wave(Wave.objects.get(project=project, number=2))
    assert discarded.state == Wave.DISCARDED
    page = client.get(WAVES).content.decode()
    rows = page[page.index('id="wave-rows"'):]
    wave2 = rows[rows.index("<td>2</td>"):].split("</tr>")[0]
    assert "discarded: closed by a lead before it opened" in wave2 and "2 excluded items taken out" in wave2
