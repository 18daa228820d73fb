"""Shared steps of the annotation-page browser tests: an annotator with a leased batch of an open
wave, and the answers that count, as the database holds them. Holds no tests itself."""
import re

from playwright.sync_api import expect

from labeling.annotations.models import Annotation

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = [f"Ticket number {i}: the customer writes about problem {i}." for i in range(12)]


def start(page, live_server, slug, n):
    """Open the annotation page and lease a batch of ``n`` items with Enter."""
    page.goto(live_server.url + f"/p/{slug}/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text(f"Item 1 of {n}")


def live(project):
    """item id → (label name, skipped) of the answers that count."""
    return {a.item_id: (a.label.name if a.label_id else None, a.skipped)
            for a in Annotation.objects.filter(project=project, undone=False).select_related("label")}


def annotating(page, live_server, login, make_user, project, *, n_items, batch_size, texts=None):
    """``project`` with an open wave of ``n_items`` (batches of ``batch_size``) and "ann" signed in
    with the first batch leased: the wave's items."""
    project.batch_size = batch_size
    project.save()
    _, items = make_open_wave(project, n_items, texts=texts or TEXTS[:n_items], batch_size=batch_size)
    add_member(make_user, project, "ann")
    login(page, "ann")
    start(page, live_server, project.slug, min(batch_size, n_items))
    return items


SHIFT = 8  # CDP's modifier bit for Shift
_SIGN_KEY_CODES = {"Slash": 0xBF, "Period": 0xBE, "Comma": 0xBC, "Semicolon": 0xBA, "Minus": 0xBD}


def press_key(cdp, code: str, key: str, *, shift: bool = False):
    """What Chromium gets when the physical key ``code`` types ``key`` under some keyboard layout
    (Input.dispatchKeyEvent, as Playwright's own keyboard sends it, with ``key`` exactly as given:
    Playwright's keyboard would map the character back to a US-layout code)."""
    letter_or_digit = re.fullmatch(r"(?:Key|Digit)([A-Z0-9])", code)
    vk = ord(letter_or_digit.group(1)) if letter_or_digit else _SIGN_KEY_CODES.get(code, 0)
    common = {"code": code, "key": key, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
              "modifiers": SHIFT if shift else 0}
    cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": key, "unmodifiedText": key, **common})
    cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})
