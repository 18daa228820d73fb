"""The annotate page meets the demo's busy database: an answer sent while an import holds SQLite's
write lock gets config.database_busy's 503 (JSON detail, Retry-After). The page's outbox takes any
5xx as "not yet", not as a refusal: it says it is retrying, sends the same answer again (same client
id) and it is stored once; nothing is counted as not saved. The 503 is the middleware's own reply,
given here to the first send (the live server's database is not the demo's SQLite)."""
import json

from playwright.sync_api import expect

from config.database_busy import DATABASE_BUSY, RETRY_AFTER_SECONDS

from .annotator_pages import annotating, live


def test_an_answer_answered_503_is_retried_and_stored_once(live_server, page, login, make_user, project_factory,
                                                           js_errors):
    project = project_factory("busyretry", labels=("billing", "login", "spam"))
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    busy = []

    def busy_once(route):
        if busy:
            route.continue_()
            return
        busy.append(route.request.post_data_json["client_id"])
        route.fulfill(status=503, content_type="application/json", headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                      body=json.dumps({"detail": DATABASE_BUSY}))

    page.route("**/api/projects/busyretry/annotations/", busy_once)
    page.keyboard.press("1")
    expect(page.locator("#save-status")).to_contain_text("HTTP 503")  # "Saving failed (HTTP 503), retrying…"
    expect(page.locator("#save-status")).to_have_text("All answers saved", timeout=15000)
    assert len(busy) == 1
    assert live(project) == {items[0].pk: ("billing", False)}
    expect(page.locator("#notice")).not_to_contain_text("Not saved")
    expect(page.locator("#wave-count")).to_have_text("1 / 2 answers (wave 1)")
    # The browser reports the 503 itself (a failed load); the page logs nothing else.
    assert [e for e in js_errors if "503" not in e] == []
