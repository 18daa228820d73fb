"""The annotation page and the dashboard in Chromium against the DEBUG=0 gunicorn of
tests/test_production_static.py: the ES modules load under their hashed names and import each
other, an answer is saved through them, and the page raises no JavaScript error."""
import re

from playwright.sync_api import expect

from tests.test_production_static import PASSWORD, SLUG, production_server  # noqa: F401 (fixture)

HASHED_MODULE = re.compile(r"/static/js/(annotate|dashboard)/\w+\.[0-9a-f]{12}\.js$")


def test_annotate_and_dashboard_modules_run_with_debug_off(browser, production_server, screenshot):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=production_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors, static = [], {}  # static: URL -> HTTP status of every /static/ file the pages fetched

    def on_console(msg):
        # Chromium asks for /favicon.ico on its own; its 404 is not the page's fault.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"console.error: {msg.text} at {msg.location.get('url', '')}")

    def on_response(response):
        if "/static/" in response.url:
            static[response.url] = response.status

    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "lena")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "/accounts/login/" not in page.url, "sign-in failed under DEBUG=0"

        page.goto(f"/p/{SLUG}/annotate/")
        # The template says "Nothing to save"; only the running modules write this.
        expect(page.locator("#save-status")).to_have_text("All answers saved")
        expect(page.locator("#label-buttons .label-btn")).to_have_count(3)
        page.keyboard.press("Enter")  # lease the first batch of 3
        expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
        page.keyboard.press("2")  # "login": saved in the background through the CSRF-protected API
        expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
        expect(page.locator("#save-status")).to_have_text("All answers saved")
        expect(page.locator("#wave-count")).to_contain_text("1 / 6 answers")
        screenshot(page, "production-annotate")

        page.goto(f"/p/{SLUG}/dashboard/")
        expect(page.locator("#dash-status")).to_contain_text("No trained model yet")
        page.wait_for_function("document.getElementById('chart-waves').width > 0")  # Chart.js drew the answer
        expect(page.locator("#chart-waves")).to_be_visible()
        screenshot(page, "production-dashboard")
    finally:
        context.close()

    modules = {re.search(r"/static/js/(\w+/\w+)\.", url).group(1) for url in static if HASHED_MODULE.search(url)}
    assert {"annotate/main", "annotate/state", "annotate/keys", "annotate/outbox", "annotate/render",
            "annotate/actions", "annotate/http", "dashboard/main", "dashboard/charts", "dashboard/tables",
            "dashboard/panels"} <= modules, sorted(static)
    assert {url: status for url, status in static.items() if status != 200} == {}
    assert errors == [], errors + [production_server.log_tail()]
