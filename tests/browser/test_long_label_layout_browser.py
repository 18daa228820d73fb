"""One 150-character label name without a space, and figures from a handful of items, in a real
browser at 1280 × 800 and 390 × 844: no page scrolls sideways, the confusion matrix shows its
cells inside its scroll box, the full name stays reachable (a title attribute), and the
dashboard says "—" with the count where fewer than MIN_N items stand behind AP or κ.

The project is trained for real (eager Celery, pre-filled embeddings: tests/test_loop_helpers.py)
on 30 labels: the long label has 11, billing 7, the three others 4 each. Screenshots go to
test-artifacts/screenshots/long-label-*.png."""
import re

import pytest
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.projects.estimates import MIN_N
from labeling.projects.models import Membership
from tests import test_loop_helpers as loop_helpers

pytestmark = pytest.mark.django_db(transaction=True)
eager_celery = loop_helpers.eager_celery

LONG = "Damaged" + "Luggage" * 20 + "XYZ"  # 150 characters, no break opportunity
SMALL = "Damaged Luggage"  # 4 labeled items: below MIN_N
LABELS = (LONG, "billing", "login", SMALL, "fraud")
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def long_label_project(project_factory, make_user, eager_celery, django_capture_on_commit_callbacks):
    assert len(LONG) == 150
    project, _ = loop_helpers.build_project(project_factory, slug="longname", n_items=200, n_labeled=30,
                                            shares=(0.45, 0.3, 0.17, 0.05, 0.03), labels=LABELS,
                                            show_suggestions=True)
    run = loop_helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    lead, ann = make_user("lea"), make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    labels = {label.name: label for label in project.labels.all()}
    # Double-labeled items: 6 pairs agree on the long label, 5 on billing, 1 on fraud (too few for
    # its own κ) and one pair disagrees (long label / billing), which also opens a review task.
    unlabeled = list(Item.objects.filter(project=project, annotations__isnull=True).order_by("-id")[:13])
    plan = [(LONG, LONG)] * 6 + [("billing", "billing")] * 5 + [("fraud", "fraud"), (LONG, "billing")]
    for item, (a, b) in zip(unlabeled, plan, strict=True):
        Annotation.objects.create(project=project, item=item, label=labels[a], annotator=lead)
        Annotation.objects.create(project=project, item=item, label=labels[b], annotator=ann)
    ReviewTask.objects.create(project=project, item=unlabeled[-1], reason=ReviewTask.DISAGREEMENT)
    return project


def no_sideways_scroll(page) -> dict:
    return page.evaluate("""() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})""")


def wide_elements(page) -> list[str]:
    """The innermost elements reaching past the right edge of the window (for the message)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1
                        && !Array.from(el.children).some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
        .slice(0, 6).map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                                 + (el.className && typeof el.className === 'string' ? '.' + el.className : '')
                                 + ' ' + Math.round(el.getBoundingClientRect().right))""")


def assert_fits(page, where):
    size = no_sideways_scroll(page)
    assert size["scroll"] <= size["inner"] + 1, f"{where} scrolls sideways: {size} {wide_elements(page)}"


def assert_full_name_reachable(page, where, scope):
    """Where the long name is cut short on screen (inside ``scope``), a title holds all of it."""
    titled = page.evaluate("""([name, scope]) => Array.from(document.querySelectorAll(scope + ' [title]'))
        .some((el) => el.getAttribute('title') === name)""", [LONG, scope])
    assert titled, f"{where}: no title attribute in {scope} holds the full long name"


def confusion_cells_visible(page) -> dict:
    """Is the first data cell of the confusion matrix inside the visible part of its scroll box?"""
    return page.evaluate("""() => {
        const box = document.querySelector('.heatmap-wrap').getBoundingClientRect();
        const cell = document.querySelector('#confusion tbody td').getBoundingClientRect();
        const head = document.querySelector('#confusion thead').getBoundingClientRect();
        return {inside: cell.top >= box.top - 1 && cell.bottom <= box.bottom + 1 && cell.left >= box.left - 1
                        && cell.right <= box.right + 1, head: Math.round(head.height), box: Math.round(box.height)};
    }""")


@pytest.mark.parametrize("size", list(SIZES))
def test_long_label_fits_every_page(size, long_label_project, live_server, page, login, screenshot, js_errors):
    project = long_label_project
    base = live_server.url + f"/p/{project.slug}/"
    page.set_viewport_size(SIZES[size])
    favicon = []  # base.html links an inline icon: no 404 for /favicon.ico in the console
    page.on("console", lambda m: favicon.append(m.text) if m.location.get("url", "").endswith("/favicon.ico")
            else None)
    login(page, "lea")

    page.goto(base + "dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")
    seen = confusion_cells_visible(page)
    assert seen["inside"], f"the confusion matrix's first cell is outside its scroll box: {seen}"
    assert seen["head"] < seen["box"] / 2, seen
    assert_fits(page, "dashboard")
    assert_full_name_reachable(page, "dashboard", "#confusion thead")
    screenshot(page, f"long-label-dashboard-{size}")

    page.goto(base + "items/")
    assert_fits(page, "items")
    widths = page.evaluate("""() => {
        const head = Array.from(document.querySelectorAll('#browse-results thead th'));
        const at = (name) => head.find((th) => th.textContent.trim() === name).getBoundingClientRect().width;
        return {text: at('Text'), predicted: at('Predicted')};
    }""")
    if size == "desktop":
        assert widths["text"] >= 300 and widths["predicted"] <= 320, widths
    assert page.evaluate("document.documentElement.scrollHeight") < 20_000
    assert_full_name_reachable(page, "items", "#browse-results tbody")
    text_dirs = page.locator("#browse-results td.text-col [dir=auto]")
    expect(text_dirs.first).to_be_attached()
    screenshot(page, f"long-label-items-{size}")
    item_id = Annotation.objects.filter(project=project, label__name=LONG).values_list("item_id", flat=True)[0]
    page.goto(base + f"items/{item_id}/")
    assert_fits(page, "item")
    expect(page.locator("#item-text")).to_have_attribute("dir", "auto")

    for path in ("", "waves/", "review/", "settings/labels/", "import/"):
        page.goto(base + path)
        assert_fits(page, path or "overview")
        screenshot(page, f"long-label-{(path or 'overview').strip('/').replace('/', '-')}-{size}")
    page.goto(base + "review/")
    select = page.locator(".relabel-select").first
    assert select.evaluate("(s) => s.getBoundingClientRect().right") <= SIZES[size]["width"]

    page.goto(base + "annotate/")
    page.click("#start-btn")
    expect(page.locator("#item-panel")).to_be_visible()
    expect(page.locator("#label-buttons button").first).to_be_visible()
    # answer (billing, key 2) until an item the model gives the long label: its suggestion line shows it
    for _ in range(10):
        if page.locator("#suggestion-label", has_text="DamagedLuggageLuggage").is_visible():
            break
        page.keyboard.press("2")
        page.wait_for_timeout(100)
    expect(page.locator("#suggestion-label")).to_contain_text("DamagedLuggageLuggage")
    assert_fits(page, "annotate")
    button = page.locator("#label-buttons button", has_text="DamagedLuggageLuggage")
    box = button.evaluate("""(b) => { const r = b.getBoundingClientRect();
                                      const p = b.parentElement.getBoundingClientRect();
                                      return {right: r.right, parent: p.right}; }""")
    assert box["right"] <= box["parent"] + 1, box
    screenshot(page, f"long-label-annotate-{size}")
    assert favicon == []
    assert js_errors == []


def test_small_n_figures_show_a_dash_and_the_count(long_label_project, live_server, page, login, screenshot,
                                                   js_errors):
    project = long_label_project
    login(page, "lea")
    page.set_viewport_size(SIZES["desktop"])
    page.goto(live_server.url + f"/p/{project.slug}/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")

    options = {o.split(" · ")[0].replace(" (rare)", ""): o
               for o in page.locator("#pr-labels option").all_text_contents()}
    assert set(options) == set(LABELS)
    # 4 positives: no AP, and the count says why; 7 and 11 positives: a number.
    for name in (SMALL, "login", "fraud"):
        assert "AP —" in options[name] and "4 positives" in options[name], options[name]
    for name in ("billing", LONG):
        assert "AP 1.00" in options[name], options[name]
    page.select_option("#pr-labels", [SMALL, "billing"])
    legend = page.locator("#pr-legend li").all_text_contents()
    assert len(legend) == 2 and "AP —" in legend[0] and "4 positives" in legend[0] and "AP 1.00" in legend[1]
    drawn = page.evaluate("""() => window.Chart.getChart(document.getElementById('chart-pr'))
                                 .data.datasets.map((d) => d.data.length)""")
    assert drawn[0] == 0 and drawn[1] > 0  # a curve from 4 positives is not drawn

    # Agreement: overall κ from 13 pairs; per label, "—" below MIN_N pairs, with the pairs counted.
    agreement = page.locator("#agreement")
    expect(agreement.locator("dd").first).to_be_visible()
    rows = agreement.locator("table tbody tr").evaluate_all(
        "(rows) => rows.map((r) => Array.from(r.cells).map((c) => c.textContent))")
    head = agreement.locator("table thead th").all_text_contents()
    by_label = {r[0]: dict(zip(head, r, strict=True)) for r in rows}
    assert by_label["fraud"]["kappa"] == "—" and by_label["fraud"]["pairs"] == "1"
    assert by_label[SMALL]["kappa"] == "—" and by_label[SMALL]["pairs"] == "0"
    assert by_label["billing"]["kappa"] not in ("—", "") and int(by_label["billing"]["pairs"]) >= MIN_N
    assert by_label[LONG]["kappa"] not in ("—", "") and int(by_label[LONG]["pairs"]) >= MIN_N
    overall = agreement.locator("dt", has_text="kappa").first.evaluate("(dt) => dt.nextElementSibling.textContent")
    # κ with its 95 % interval, both to 3 decimals; no row of its own for an interval
    assert re.fullmatch(r"-?\d\.\d{3} \(95 % interval -?\d\.\d{3} to -?\d\.\d{3}\)", overall), overall
    assert not [t for t in agreement.locator("dt").all_text_contents() if "ci" in t.split()], \
        agreement.locator("dt").all_text_contents()

    # Reliability: each bin with items says its count.
    expect(page.locator("#rel-counts")).to_contain_text("30")
    screenshot(page, "long-label-dashboard-small-n")
    assert js_errors == []
