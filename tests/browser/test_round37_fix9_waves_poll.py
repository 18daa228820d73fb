"""The waves page polls the wave current now: when another lead closes this page's wave and a new
one opens, or opens the planned wave the page shows, the page says its wave changed and asks for a
reload (it wrote the new wave's progress numbers under the old "Wave N" heading)."""
import pytest

from labeling.projects.models import Membership
from labeling.waves.models import Wave
from tests.test_annotation_helpers import make_open_wave

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead_world(make_user, project_factory):
    project = project_factory("support")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    return project


def _polled(page, change):
    """Runs ``change`` with the page loaded, then waits for a poll answered after it."""
    change()
    with page.expect_response(lambda r: "/waves/status" in r.url, timeout=20_000):
        pass


def test_a_wave_closed_and_another_opened_elsewhere_is_said(page, live_server, login, screenshot, js_errors,
                                                            lead_world):
    make_open_wave(lead_world, 4, number=1)
    login(page, "lena")
    page.goto(live_server.url + "/p/support/waves/")
    assert "Wave 1 · open" in page.locator("#wave-summary").text_content()

    def another_lead_closes_and_opens():
        Wave.objects.filter(project=lead_world, number=1).update(state=Wave.CLOSED)
        make_open_wave(lead_world, 6, number=2)

    _polled(page, another_lead_closes_and_opens)
    page.wait_for_function("document.getElementById('wave-summary').textContent.includes('wave 2 is open now')",
                           timeout=15_000)
    summary = page.locator("#wave-summary").text_content()
    assert "Wave 1 (open) when this page loaded" in summary and "Reload the page" in summary, summary
    assert "of 6" not in summary  # wave 2's numbers are not shown as wave 1's
    assert page.locator("#close-wave").is_disabled()
    screenshot(page, "round37-waves-changed")
    with page.expect_navigation():
        page.click("#wave-reload")
    assert "Wave 2 · open" in page.locator("#wave-summary").text_content()
    assert js_errors == []


def test_a_planned_wave_opened_elsewhere_is_said(page, live_server, login, js_errors, lead_world):
    make_open_wave(lead_world, 4, number=1, state=Wave.PLANNED)
    login(page, "lena")
    page.goto(live_server.url + "/p/support/waves/")
    assert "Wave 1 · planned" in page.locator("#wave-summary").text_content()
    _polled(page, lambda: Wave.objects.filter(project=lead_world, number=1).update(state=Wave.OPEN))
    page.wait_for_function("document.getElementById('wave-summary').textContent.includes('wave 1 is open now')",
                           timeout=15_000)
    assert page.locator("#open-wave").is_disabled()
    assert js_errors == []


def test_an_unchanged_wave_keeps_its_numbers_current(page, live_server, login, js_errors, lead_world):
    wave, _items = make_open_wave(lead_world, 4, number=1)
    login(page, "lena")
    page.goto(live_server.url + "/p/support/waves/")
    _polled(page, lambda: None)
    page.wait_for_timeout(300)
    summary = page.locator("#wave-summary").text_content()
    assert "Wave 1 · open" in summary and "0 of 4" in " ".join(summary.split()), summary
    assert not page.locator("#close-wave").is_disabled()
    assert js_errors == []
