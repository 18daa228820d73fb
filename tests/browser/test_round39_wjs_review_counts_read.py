"""The review page's counts line is read again after each decision (GET review/?limit=1), but the
decision never waits on that read: a stalled read leaves the keys working and, after a bounded
time, marks the line as not up to date; a slow reply of an earlier read never writes its older
figures over a later read's."""
import json
import re

from playwright.sync_api import expect

from labeling.annotations.models import ReviewTask
from labeling.projects.models import Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def _queue(project, n=3):
    billing = project.labels.get(name="billing")
    return [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                      detail={"predicted": "billing", "predicted_label_id": billing.pk, "prob": 0.5,
                                              "why": "inside the band"})
            for item in make_items(project, n, prefix="ticket")]


def _open_page(page, live_server, login, slug):
    login(page, "lea")
    page.goto(live_server.url + f"/p/{slug}/review/")
    page.wait_for_load_state("networkidle")


def test_a_stalled_counts_read_neither_holds_the_keys_nor_passes_for_current(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("wjscnt", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    tasks = _queue(project)
    _open_page(page, live_server, login, "wjscnt")
    held = []
    page.route(re.compile(r"/api/projects/wjscnt/review/\?limit=1$"), lambda route: held.append(route))
    page.keyboard.press("d")
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.", timeout=5_000)
    # The next key decides the next card: nothing is left "saving" behind the stalled read.
    page.keyboard.press("d")
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class(re.compile(r"\bdone\b"), timeout=5_000)
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    assert ReviewTask.objects.filter(pk__in=[tasks[0].pk, tasks[1].pk], resolved_at__isnull=False).count() == 2
    assert len(held) == 2
    # The page-load figures are not the queue's any more: once the read has had its time, the line says so.
    expect(page.locator("#count-open")).to_have_text("3 open tasks on 3 items")
    expect(page.locator("#counts-stale")).to_be_visible(timeout=15_000)
    expect(page.locator("#counts-stale")).to_contain_text("reload the page")
    assert js_errors == []


def test_a_late_reply_of_an_earlier_read_does_not_overwrite_a_later_one(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("wjslate", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    _queue(project)
    _open_page(page, live_server, login, "wjslate")
    held = []

    def hold_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(re.compile(r"/api/projects/wjslate/review/\?limit=1$"), hold_first)
    page.keyboard.press("d")
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.", timeout=5_000)
    page.keyboard.press("d")
    expect(page.locator("#count-open")).to_have_text("1 open task on 1 item")
    expect(page.locator("#count-resolved")).to_have_text("2 resolved by a lead")
    # The first read's reply comes in now, with the figures of after the first decision only.
    before = {"open": 2, "open_items": 2, "disagreement": 0, "low_confidence": 2, "label_issue": 0,
              "lead_request": 0, "resolved": 1, "expired": 0}
    with page.expect_event("requestfinished", lambda r: r.url == held[0].request.url):
        held[0].fulfill(status=200, content_type="application/json", body=json.dumps({"counts": before}))
    page.wait_for_timeout(300)  # the reply's body is read and handled just after the request ends
    expect(page.locator("#count-open")).to_have_text("1 open task on 1 item")
    expect(page.locator("#count-resolved")).to_have_text("2 resolved by a lead")
    expect(page.locator("#counts-stale")).to_have_count(0)
    assert js_errors == []
