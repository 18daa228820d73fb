"""Shared Playwright fixtures for browser tests: Debian's Chromium, headless, against pytest-django's
``live_server``.

Use in a test module under tests/browser/ (every test here is marked ``browser`` automatically)::

    def test_something(live_server, page, login, screenshot, make_user):
        make_user("ann")
        login(page, "ann")                      # signs in through the real login form
        page.goto(live_server.url + "/")
        screenshot(page, "home")                # -> test-artifacts/screenshots/home.png

``js_errors`` lists uncaught page errors and console errors seen so far, so a test can assert
``js_errors == []`` at the end.
"""
import os
import re
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DEFAULT_PASSWORD = "pw-Longtail-123"  # the password tests/conftest.py's make_user gives everyone


def pytest_collection_modifyitems(config, items):
    # pytest calls this hook with the whole session's items; mark only the ones in this folder.
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def save_screenshot(page, name: str) -> Path:
    """Save a full-page PNG as test-artifacts/screenshots/<name>.png and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
    path = SCREENSHOT_DIR / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM
    # calls made from test code while it is active.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page._longtail_errors = []  # filled by the listeners below, read through the js_errors fixture
    page.on("pageerror", lambda exc: page._longtail_errors.append(f"pageerror: {exc}"))

    def on_console(msg):
        # Chromium asks for /favicon.ico on its own; its 404 is not the page's fault.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            page._longtail_errors.append(f"console.error: {msg.text} at {msg.location.get('url', '')}")

    page.on("console", on_console)
    yield page
    context.close()
    _wait_for_live_server_requests()


def _wait_for_live_server_requests(timeout: float = 15.0) -> None:
    """Let the live server finish what the closed page had sent (an answer in flight when a test's
    last check passed) before pytest-django empties the database: a request still holding row
    locks makes that TRUNCATE deadlock and fail, and the next test then meets this one's rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        handling = [t for t in threading.enumerate() if "process_request_thread" in t.name and t.is_alive()]
        if not handling:
            return
        handling[0].join(timeout=0.05)


@pytest.fixture
def js_errors(page) -> list[str]:
    return page._longtail_errors


@pytest.fixture
def login(live_server):
    """``login(page, username, password=DEFAULT_PASSWORD)``: sign in through the login form."""

    def _login(page, username: str, password: str = DEFAULT_PASSWORD):
        page.goto(live_server.url + "/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        if "/accounts/login/" in page.url:
            raise AssertionError(f"login as {username!r} failed: still on {page.url}")
        return page

    return _login


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` → Path of test-artifacts/screenshots/<name>.png."""
    return save_screenshot
