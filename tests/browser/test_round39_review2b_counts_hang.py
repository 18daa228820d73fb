"""The review page waits for the counts line's read (GET review/?limit=1) before it shows a stored
decision: when that read is slow or hangs (a loaded server, a stalled connection), the decision the
server already stored and answered stays "saving" on the page, the card stays, and every key is
refused as pressed while saving. The counts line is secondary: the decision's outcome should show
at once, and the line follow (or be marked not up to date) when its read ends."""
import re

from playwright.sync_api import expect

from labeling.annotations.models import ReviewTask
from labeling.projects.models import Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def test_a_stored_decision_shows_while_the_counts_read_hangs(live_server, page, login, make_user, project_factory):
    project = project_factory("r2bcnt", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    billing = project.labels.get(name="billing")
    items = make_items(project, 3, prefix="ticket")
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": "billing", "predicted_label_id": billing.pk,
                                               "prob": 0.5, "why": "inside the band"}) for item in items]
    login(page, "lea")
    page.goto(live_server.url + "/p/r2bcnt/review/")
    page.wait_for_load_state("networkidle")
    held = []
    page.route(re.compile(r"/api/projects/r2bcnt/review/\?limit=1$"), lambda route: held.append(route))
    page.keyboard.press("d")
    for _ in range(50):  # the server stores and answers the decision at once
        if ReviewTask.objects.get(pk=tasks[0].pk).resolved_at is not None:
            break
        page.wait_for_timeout(100)
    assert ReviewTask.objects.get(pk=tasks[0].pk).resolved_at is not None
    assert held, "the counts line's read was not asked"
    # Its outcome shows without waiting for the counts read (held here as a stalled connection would).
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.", timeout=5_000)
    expect(page.locator(f"#task-{tasks[0].pk}")).to_have_class(re.compile(r"\bdone\b"))
