"""A lead accepts a review task on a bad network: the server stores the decision, then the
connection drops before the reply arrives (fetch() rejects). The review page
(static/js/review/main.js act(), its catch) says "Not saved: Failed to fetch" and leaves the card
open as if nothing happened, while the task is closed and its label stored. A page that did not
hear back cannot know that nothing was saved: it must not tell the lead so (it could say the reply
was lost and that the decision may have been saved)."""
import re

from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def test_a_decision_whose_reply_is_lost_is_not_reported_as_not_saved(live_server, page, login, make_user,
                                                                     project_factory):
    project = project_factory("lostrev", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": "billing", "prob": 0.5, "why": "inside the band"})
             for item in make_items(project, 2, prefix="ticket")]
    login(page, "lea")
    page.goto(live_server.url + "/p/lostrev/review/")
    stored = []

    def store_then_drop(route):
        reply = route.fetch()  # the server decides the task
        stored.append(reply.status)
        route.abort("connectionreset")  # ... and the reply never reaches the page

    page.route("**/api/projects/lostrev/review/bulk/", store_then_drop)
    page.locator(f"#task-{tasks[0].pk} .accept-btn").click()
    status = page.locator("#review-status")
    expect(status).not_to_have_text("Saving…")
    assert stored == [200]
    tasks[0].refresh_from_db()
    assert tasks[0].outcome == ReviewTask.ACCEPTED
    assert list(Annotation.objects.filter(item=tasks[0].item).values_list("label__name", flat=True)) == ["billing"]
    # The accept was stored: the page must not say it was not.
    expect(status).not_to_have_text(re.compile(r"^Not saved"))
    # netfix2: the page says the reply was lost, asks the server again and shows what was stored:
    # the accepted card leaves the list, the other stays.
    expect(status).to_have_text(re.compile(r"^No reply from the server: the decision may have been saved\. "
                                           r"Asked again: 1 of 1 task closed now\."))
    expect(page.locator(f"#task-{tasks[0].pk}")).to_be_hidden()
    expect(page.locator(f"#task-{tasks[1].pk}")).to_be_visible()
