"""A lead works the review queue from the keyboard on a project with 40 labels. The page's counts line
("N open tasks on M items … · K resolved by a lead") must follow the lead's decisions as the group counts
do, and agree with the API's counts; it stayed at the page-load figures until a reload."""
import re

from playwright.sync_api import expect
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.projects.models import Label, Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member

HOTKEYS = "123456789bcefghilmnopqstuvwyz"  # the annotation page's order, the review keys left out


def test_the_counts_line_follows_keyboard_decisions(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("hdr39", labels=())
    labels = [Label.objects.create(project=project, name=f"topic {i:02d}", order=i,
                                   hotkey=HOTKEYS[i] if i < len(HOTKEYS) else None) for i in range(40)]
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    items = make_items(project, 12, prefix="ticket")
    for i, item in enumerate(items):
        label = labels[i % 3]
        ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                  detail={"predicted": label.name, "predicted_label_id": label.pk, "prob": 0.5,
                                          "why": "inside the band"})
    login(page, "lea")
    page.goto(live_server.url + "/p/hdr39/review/")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#count-open")).to_have_text("12 open tasks on 12 items")
    page.keyboard.press("a")  # accept the first card's prediction
    expect(page.locator("#review-status")).to_contain_text("Accepted: 1 task")
    page.keyboard.press("d")  # dismiss the next one
    expect(page.locator("#review-status")).to_contain_text("Dismissed: 1 task")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press(HOTKEYS[5])  # relabel the two selected as "topic 05"
    expect(page.locator("#review-status")).to_contain_text("Relabeled as topic 05: 2 tasks")

    client = APIClient()
    client.force_authenticate(lead)
    counts = client.get("/api/projects/hdr39/review/").json()["counts"]
    assert counts["open"] == 8 and counts["resolved"] == 4, counts
    shown_open = int(re.match(r"(\d+)", page.locator("#count-open").inner_text()).group(1))
    shown_resolved = int(re.match(r"(\d+)", page.locator("#count-resolved").inner_text()).group(1))
    groups = sum(int(re.match(r"(\d+)", t).group(1)) for t in page.locator(".review-group:not([hidden]) .group-count")
                 .all_inner_texts())
    assert groups == counts["open"], (groups, counts)
    assert (shown_open, shown_resolved) == (counts["open"], counts["resolved"]), (
        f"after 4 decisions the page still says {page.locator('#review-counts').inner_text()!r}; "
        f"the API says {counts['open']} open, {counts['resolved']} resolved, and the groups add up to {groups}")
    assert js_errors == []
