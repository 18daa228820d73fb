"""A lead page's save is judged stale against what is stored when the save runs, on two real
PostgreSQL connections: a colleague's save that holds the lock (written, not yet committed) while
this lead's page is posted used to be read as it was before, so the page passed as fresh and then
overwrote the colleague's value once the lock was released. Now the post waits for the lock, reads
the committed value and refuses the field both changed (409), as it does outside that window."""
import threading

import pytest
from django.db import transaction
from django.test import Client

from labeling.projects import services
from labeling.projects.models import Label, Membership, Project, Source

from .db_threads import backends_waiting_on_locks, in_thread
from .test_lease_races import wait_until
from .test_settings_pages_stale_edits import LABELS, SETTINGS, SOURCES, open_page, row_prefix

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead_page(world, make_user):
    """A logged-in client of a second lead of alpha."""
    second = make_user("lena2")
    Membership.objects.create(user=second, project=world["alpha"], role=Membership.LEAD)
    Project.objects.filter(pk=world["alpha"].pk).update(wave_size=100)
    client = Client()
    client.force_login(second)
    return client


def colleague_saving(save):
    """Run ``save`` in a transaction on its own connection and keep it open (its row locks held)
    until the returned ``go`` is set. Returns (thread, outcome, go)."""
    written, go = threading.Event(), threading.Event()

    def run():
        with transaction.atomic():
            save()
            written.set()
            go.wait(15)

    thread, outcome = in_thread(run)
    assert written.wait(15), outcome
    return thread, outcome, go


def post_while_held(client, url, controls, go):
    """Post the page in a thread; release the colleague's transaction once the post waits for its
    lock (or, with the old code, once the post reached the save's lock), then return the response."""
    posting, posted = in_thread(client.post, url, controls)
    wait_until(lambda: backends_waiting_on_locks() >= 1)
    go.set()
    posting.join(timeout=20)
    assert "error" not in posted, posted
    return posted["result"]


def test_settings_saved_while_the_page_is_posted_are_read_not_overwritten(world, lead_page):
    alpha = world["alpha"]
    mine = open_page(lead_page, SETTINGS, "settings-form")
    colleague, outcome, go = colleague_saving(lambda: services.update_settings(alpha, {"wave_size": 200}))
    mine["wave_size"] = ["150"]
    response = post_while_held(lead_page, SETTINGS, mine, go)
    colleague.join(timeout=15)
    assert "error" not in outcome, outcome
    assert response.status_code == 409, response.status_code
    assert "Wave size: changed by someone else since this page loaded; it is now “200”." in response.content.decode()
    assert Project.objects.get(pk=alpha.pk).wave_size == 200


def test_labels_saved_while_the_page_is_posted_are_read_not_overwritten(world, lead_page):
    alpha = world["alpha"]
    billing = Label.objects.get(project=alpha, name="billing")
    mine = open_page(lead_page, LABELS, "labels-form")
    row = row_prefix(mine, "labels", "billing")
    colleague, outcome, go = colleague_saving(
        lambda: services.save_label(alpha, billing, description="Invoices and refunds"))
    mine[f"{row}-description"] = ["Money questions"]
    response = post_while_held(lead_page, LABELS, mine, go)
    colleague.join(timeout=15)
    assert "error" not in outcome, outcome
    assert response.status_code == 409, response.status_code
    assert Label.objects.get(pk=billing.pk).description == "Invoices and refunds"


def test_quotas_saved_while_the_page_is_posted_are_read_not_overwritten(world, lead_page):
    alpha = world["alpha"]
    mine = open_page(lead_page, SOURCES, "sources-form")
    rows = {source.name: source.pk for source in Source.objects.filter(project=alpha)}
    colleague, outcome, go = colleague_saving(lambda: services.replace_sources(
        alpha, [{"id": rows["email"], "name": "email", "quota": 0.8}, {"id": rows["chat"], "name": "chat", "quota": 0.2}]))
    email, chat = row_prefix(mine, "sources", "email"), row_prefix(mine, "sources", "chat")
    mine[f"{email}-quota"], mine[f"{chat}-quota"] = ["0.3"], ["0.7"]
    response = post_while_held(lead_page, SOURCES, mine, go)
    colleague.join(timeout=15)
    assert "error" not in outcome, outcome
    assert response.status_code == 409, response.status_code
    assert dict(Source.objects.filter(project=alpha).values_list("name", "quota")) == {"email": 0.8, "chat": 0.2}
