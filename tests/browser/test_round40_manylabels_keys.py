"""The annotation page with many labels (banking77's 77 flat labels, a two-level taxonomy with long
names), worked from the keyboard on small screens, in Chromium against the live server."""
import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.projects.services import create_project

from ..test_annotation_helpers import add_member, make_open_wave

BANKING = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "banking77.jsonl"


def banking_labels():
    names = []
    with BANKING.open() as rows:
        for line in rows:
            label = json.loads(line)["label"]
            if label not in names:
                names.append(label)
    return names


def open_page(browser, live_server, login, viewport, **context):
    ctx = browser.new_context(viewport=viewport, base_url=live_server.url, **context)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    login(page, "ann")
    return ctx, page


def lease(page, live_server, slug, n):
    page.goto(live_server.url + f"/p/{slug}/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text(f"Item 1 of {n}")


def in_box(locator, box_selector):
    """(top, bottom) of the element and of the scroll box holding it, in the viewport."""
    return locator.evaluate("""(el, sel) => { const r = el.getBoundingClientRect();
        const b = document.querySelector(sel).getBoundingClientRect(); return [r.top, r.bottom, b.top, b.bottom]; }""",
                            box_selector)


@pytest.mark.skipif(not BANKING.exists(), reason="../shared/datasets is absent")
def test_the_filter_match_that_enter_picks_is_scrolled_into_view_on_a_phone(live_server, browser, login, make_user):
    """390×844, keyboard only: Tab walks into the 77 label buttons (the list scrolls with the focus), then
    / and "card". The list keeps its scroll position, so the highlighted first match (card_arrival, which
    Enter stores) sits 600+ px above the list's visible part; Enter stored it unseen."""
    lead = make_user("lead")
    project = create_project(lead, slug="bank", name="Bank", labels=banking_labels(), other_label=True)
    _, items = make_open_wave(project, 3, texts=[f"My new card has not arrived yet ({i})" for i in range(3)],
                              batch_size=3)
    add_member(make_user, project, "ann")
    ctx, page = open_page(browser, live_server, login, {"width": 390, "height": 844}, has_touch=True)
    try:
        lease(page, live_server, "bank", 3)
        box = page.locator("#label-buttons")
        deadline = time.monotonic() + 60
        while box.evaluate("b => b.scrollTop") < 600 and time.monotonic() < deadline:
            page.keyboard.press("Tab")  # through the label buttons, as a keyboard user reaches them
        assert box.evaluate("b => b.scrollTop") >= 600
        page.keyboard.press("/")
        page.keyboard.type("card")
        first = page.locator("#label-buttons button.first-match")
        expect(first).to_contain_text("card_arrival")
        top, bottom, box_top, box_bottom = in_box(first, "#label-buttons")
        page.keyboard.press("Enter")
        expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
        stored = Annotation.objects.get(item=items[0]).label.name
        assert (top >= box_top - 1 and bottom <= box_bottom + 1), (
            f"Enter stored “{stored}”, the highlighted match, while it was out of view: button {top:.0f}..{bottom:.0f}, "
            f"label list shows {box_top:.0f}..{box_bottom:.0f}")
    finally:
        ctx.close()


def test_the_label_filter_finds_a_label_typed_without_its_accents(live_server, browser, login, make_user):
    """/ then "reclamation" (no accent, as many type on a keyboard without dead keys) finds nothing for the
    label "Réclamation client": the filter compares lower-cased text only, while the item search of the
    same product ignores accents."""
    lead = make_user("lead")
    labels = ["Réclamation client", "Résiliation", "Facturation", "Démarrage", "Accès au compte", "Sécurité",
              "Livraison", "Échange", "Remboursement", "Garantie"]
    project = create_project(lead, slug="fr", name="Fr", labels=labels, other_label=True)
    _, items = make_open_wave(project, 2, texts=["Je veux faire une réclamation", "Mon colis"], batch_size=2)
    add_member(make_user, project, "ann")
    ctx, page = open_page(browser, live_server, login, {"width": 1280, "height": 720})
    try:
        lease(page, live_server, "fr", 2)
        page.keyboard.press("/")
        page.keyboard.type("reclamation")
        expect(page.locator("#label-buttons button.first-match")).to_contain_text("Réclamation client")
        page.keyboard.press("Enter")
        expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
        assert Annotation.objects.get(item=items[0]).label.name == "Réclamation client"
    finally:
        ctx.close()


def test_a_coarse_key_at_200_percent_zoom_shows_the_fine_labels_it_opened(live_server, browser, login, make_user):
    """1280×720 at 200 % zoom is a 640×360 CSS viewport: the labels sit under the item. Pressing a coarse
    label's key opens its fine labels below the fold and nothing scrolls them into view, so the next key
    stores a fine label the annotator never saw listed."""
    lead = make_user("lead")
    lines = [f"Coarse group {c} with a long name > fine label {c}-{f} with a longer descriptive name"
             for c in range(3) for f in range(5)]
    project = create_project(lead, slug="zoom", name="Zoom", labels=lines, other_label=True)
    make_open_wave(project, 2, texts=["A question about the account " * 20, "Another one"], batch_size=2)
    add_member(make_user, project, "ann")
    ctx, page = open_page(browser, live_server, login, {"width": 640, "height": 360}, device_scale_factor=2)
    try:
        lease(page, live_server, "zoom", 2)
        page.keyboard.press("1")  # Coarse group 0: its fine labels open
        expect(page.locator("#coarse-step")).to_be_visible()
        fine = page.locator("#label-buttons button.label-btn").first
        expect(fine).to_contain_text("fine label 0-0")
        top, bottom = fine.evaluate("el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom]; }")
        assert 0 <= top and bottom <= 360, f"the first fine label is drawn at {top:.0f}..{bottom:.0f}, outside 0..360"
    finally:
        ctx.close()
