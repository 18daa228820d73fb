"""The dashboard's per-class estimates panel says, under the table, which sources the pool figures
cover and which unlabeled items they cannot speak for (a source with quota 0 beside quotas that add
up to 1 is never drawn), in headless Chromium against the live server.

Chromium runs in a thread of its own: tests/browser's session-wide Playwright may already hold
this thread's event loop (Playwright's sync API allows one per thread)."""
import threading
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DEFAULT_PASSWORD

from .test_routing_estimates_coverage import PER_SOURCE, answer, drawn_wave, pool, set_quotas  # noqa: F401

pytestmark = pytest.mark.browser


def dashboard_note(base_url: str, username: str, slug: str) -> tuple[str, list[str]]:
    """(the text under the per-class table once the dashboard has drawn, the page's errors), as
    ``username`` sees it after signing in through the login form."""
    from playwright.sync_api import expect, sync_playwright

    out: dict = {}

    def run():
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                page = browser.new_page()
                page.set_default_timeout(15_000)
                errors = out.setdefault("errors", [])
                page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
                page.goto(base_url + "/accounts/login/")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", DEFAULT_PASSWORD)
                with page.expect_navigation():
                    page.click("button[type=submit]")
                page.goto(base_url + f"/p/{slug}/dashboard/")
                page.wait_for_selector("#dashboard[data-ready]")
                expect(page.locator("#est-sample")).to_contain_text("Pool figures")
                out["note"] = page.locator("#est-sample").text_content()
                browser.close()
        except Exception as exc:  # noqa: BLE001 - raised again in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    if "error" in out:
        raise out["error"]
    return out["note"], out["errors"]


def test_the_estimates_panel_names_the_source_it_cannot_speak_for(pool, live_server):  # noqa: F811
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    project, truth, _ = pool
    set_quotas(project, {"mail": 0.6, "chat": 0.4})
    _, picks = drawn_wave(project)
    answer(project, picks, truth)
    note, errors = dashboard_note(live_server.url, "lea", project.slug)
    assert note.startswith("Pool figures estimated from"), note
    assert "The figures cover sources chat, mail (" in note, note
    assert note.endswith(f"; web (quota 0) is never drawn, so nothing here speaks for its {PER_SOURCE} unlabeled "
                         "items."), note
    assert errors == []
