"""The waves page's "Close wave" / "Open wave" forms act on the wave they were rendered for: a
second lead's stale page, or a double-click, must not close, discard or open whatever wave is
current when the POST lands (the API names the wave in its URL; the page names it in a hidden field)."""
import re

import pytest

from labeling.items.models import Item
from labeling.modeling.embedding import embed_project
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from labeling.waves import services as waves
from labeling.waves.models import Wave
from learner.text import text_hash

pytestmark = pytest.mark.django_db

WAVES = "/p/alpha/waves/"
# Distinct texts (not near duplicates of each other), so that several waves can be planned.
TOPICS = ("My parcel from Berlin", "The mobile banking app", "Our hotel booking in Lisbon", "The new espresso machine",
          "My gym membership", "The train to Vienna", "The printer driver")
COMPLAINTS = ("never arrived and nobody answers the phone", "charged me twice this month",
              "crashes whenever I open the settings", "was cancelled without any explanation",
              "is missing the invoice I asked for", "keeps asking for a password reset")


@pytest.fixture
def leads(make_user, project_factory, client):
    project = project_factory("alpha")
    project.wave_size = 6
    project.batch_size = 3
    project.save()
    lead1, lead2 = make_user("lena"), make_user("lars")
    for lead in (lead1, lead2):
        Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    sources = list(project.sources.all())
    for i, (who, what) in enumerate((who, what) for who in TOPICS for what in COMPLAINTS):
        text = f"{who} {what}"
        Item.objects.create(project=project, source=sources[i % 2], text=text, text_hash=text_hash(text))
    embed_project(project)
    return {"project": project, "lead1": lead1, "lead2": lead2}


def _form(page: str, form_id_or_button: str) -> dict:
    """The fields a browser would post from the form holding ``form_id_or_button`` (hidden inputs
    and the checked retrain box), read off the rendered page."""
    start = page.rindex("<form", 0, page.index(form_id_or_button))
    form = page[start:page.index("</form>", start)]
    fields = dict(re.findall(r'<input type="hidden" name="(wave|newest)" value="([^"]*)"', form))
    if 'name="retrain" value="1"' in form and "checked" in form:
        fields["retrain"] = "1"
    return fields


def _states(project) -> dict:
    return dict(Wave.objects.filter(project=project).values_list("number", "state"))


def test_stale_page_of_a_second_lead_does_not_close_the_wave_opened_since(client, leads):
    project = leads["project"]
    client.force_login(leads["lead1"])
    client.post(f"{WAVES}plan/")
    assert _states(project) == {1: Wave.OPEN}

    client.force_login(leads["lead2"])
    stale = client.get(WAVES).content.decode()
    assert 'data-confirm="Close wave 1?' in stale
    stale_close = _form(stale, 'id="close-wave"')
    assert stale_close == {"wave": "1", "retrain": "1"}

    client.force_login(leads["lead1"])  # closes wave 1 without retraining, plans and opens wave 2
    fresh = client.get(WAVES).content.decode()
    page = client.post(f"{WAVES}close/", {"wave": _form(fresh, 'id="close-wave"')["wave"]}, follow=True)
    assert "Wave 1 closed." in page.content.decode()
    client.post(f"{WAVES}plan/")
    assert _states(project) == {1: Wave.CLOSED, 2: Wave.OPEN}

    client.force_login(leads["lead2"])  # confirms the dialog of the page loaded before
    body = client.post(f"{WAVES}close/", stale_close, follow=True).content.decode()
    assert "Wave 1 is already closed; wave 2 is open now. Nothing was closed" in body
    assert "Wave 2 closed" not in body
    assert _states(project) == {1: Wave.CLOSED, 2: Wave.OPEN}
    assert not TaskRun.objects.filter(project=project, kind="retrain").exists()


def test_double_click_on_close_does_not_discard_the_planned_wave(client, leads):
    project = leads["project"]
    client.force_login(leads["lead1"])
    client.post(f"{WAVES}plan/")
    client.post(f"{WAVES}plan/")  # planned while wave 1 is open: it waits
    assert _states(project) == {1: Wave.OPEN, 2: Wave.PLANNED}
    close = _form(client.get(WAVES).content.decode(), 'id="close-wave"')
    assert close["wave"] == "1"
    close.pop("retrain")

    first = client.post(f"{WAVES}close/", close, follow=True).content.decode()
    second = client.post(f"{WAVES}close/", close, follow=True).content.decode()
    assert "Wave 1 closed." in first
    assert "Wave 1 is already closed; wave 2 is planned now. Nothing was closed" in second
    assert "discarded" not in second
    assert _states(project) == {1: Wave.CLOSED, 2: Wave.PLANNED}
    assert Wave.objects.get(project=project, number=2).picks.exists()


def test_stale_open_button_does_not_open_a_newer_plan(client, leads):
    project = leads["project"]
    client.force_login(leads["lead1"])
    client.post(f"{WAVES}plan/")
    client.post(f"{WAVES}plan/")
    client.post(f"{WAVES}close/", {"wave": "1"})
    assert _states(project) == {1: Wave.CLOSED, 2: Wave.PLANNED}

    client.force_login(leads["lead2"])
    stale = client.get(WAVES).content.decode()
    assert "Open wave 2" in stale
    stale_open = _form(stale, 'id="open-wave"')
    assert stale_open == {"wave": "2"}

    client.force_login(leads["lead1"])  # discards wave 2; the loop plans wave 3, not opened yet
    assert "Wave 2 discarded" in client.post(f"{WAVES}close/", {"wave": "2"}, follow=True).content.decode()
    waves.plan_next_wave(project)
    assert _states(project) == {1: Wave.CLOSED, 2: Wave.DISCARDED, 3: Wave.PLANNED}

    client.force_login(leads["lead2"])
    body = client.post(f"{WAVES}open/", stale_open, follow=True).content.decode()
    assert "Wave 2 was discarded; wave 3 is planned now. Nothing was opened" in body
    assert _states(project)[3] == Wave.PLANNED

    fresh_open = _form(client.get(WAVES).content.decode(), 'id="open-wave"')
    assert fresh_open == {"wave": "3"}
    first = client.post(f"{WAVES}open/", fresh_open, follow=True).content.decode()
    second = client.post(f"{WAVES}open/", fresh_open, follow=True).content.decode()  # a double-click
    assert "Wave 3 opened for annotators." in first
    assert "Wave 3 is already open. Nothing was opened again." in second
    assert _states(project)[3] == Wave.OPEN


@pytest.mark.parametrize("posted", [{}, {"wave": ""}, {"wave": "x"}, {"wave": "\u0663"}, {"wave": "-1"}])
def test_a_close_or_open_without_a_wave_number_changes_nothing(client, leads, posted):
    project = leads["project"]
    client.force_login(leads["lead1"])
    client.post(f"{WAVES}plan/")
    client.post(f"{WAVES}plan/")
    for action, doing in (("close", "close"), ("open", "open")):
        response = client.post(f"{WAVES}{action}/", {**posted, "retrain": "1"}, follow=True)
        assert response.status_code == 200
        assert f"The form did not say which wave to {doing}" in response.content.decode()
    assert _states(project) == {1: Wave.OPEN, 2: Wave.PLANNED}
    assert not TaskRun.objects.filter(project=project, kind="retrain").exists()


def test_plan_from_a_stale_page_or_a_double_click_plans_nothing_more(client, leads):
    """"Plan next wave" carries the newest wave the page showed: a second lead's plan since, or a
    double-click's first post, makes it plan nothing (a reader got a second planned wave so)."""
    project = leads["project"]
    client.force_login(leads["lead2"])
    stale_plan = _form(client.get(WAVES).content.decode(), 'id="plan-wave"')
    assert stale_plan == {"newest": "0"}
    client.force_login(leads["lead1"])
    plan = _form(client.get(WAVES).content.decode(), 'id="plan-wave"')
    first = client.post(f"{WAVES}plan/", plan, follow=True).content.decode()
    second = client.post(f"{WAVES}plan/", plan, follow=True).content.decode()
    assert "Wave 1 planned" in first
    assert "Wave 1 was planned since this page loaded" in second and "nothing was planned" in second
    client.force_login(leads["lead2"])
    body = client.post(f"{WAVES}plan/", stale_plan, follow=True).content.decode()
    assert "Wave 1 was planned since this page loaded" in body
    assert _states(project) == {1: Wave.OPEN}
    # The page as it is now plans the next one.
    fresh = _form(client.get(WAVES).content.decode(), 'id="plan-wave"')
    assert fresh == {"newest": "1"}
    assert "Wave 2 planned" in client.post(f"{WAVES}plan/", fresh, follow=True).content.decode()
