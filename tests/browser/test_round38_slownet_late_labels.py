"""A lease renewal's reply that arrives late, after a newer reply, takes the page back to older
labels. The renewal (leases.js renew) and the answers (outbox.js) go out on their own; each reply
that carries labels is adopted (followServerLabels → stale_labels.js adoptServerLabels), with no
look at whether the page already holds newer ones (labels_version is a digest, not an order).

A lead renames billing → invoices while a renewal is on its way; the renewal's reply (labels with
"invoices") is held up on a slow network; the lead renames it again → payments; an answer's reply
brings "payments" and the page shows it. Then the late renewal reply lands: the page says "A lead
changed the project's labels: “payments” is now “invoices”" (no lead did), the button reads
"invoices" again, and the annotator's next press of its key is refused 409 ("The label you chose,
“invoices”, is now named “payments”; nothing was stored") and the item is put back."""
from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.projects.models import Label

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import TEXTS, live


def test_a_late_renewal_reply_does_not_take_the_page_back_to_older_labels(live_server, page, login, make_user,
                                                                          project_factory):
    project = project_factory("latelabels", labels=("billing", "login", "spam"))
    project.batch_size = 3
    project.save()
    _, items = make_open_wave(project, 3, texts=TEXTS[:3], batch_size=3)
    ann = add_member(make_user, project, "ann")
    leasing.lease_batch(project, ann)  # held: the page renews it as soon as it opens
    login(page, "ann")
    held = []
    page.route("**/api/projects/latelabels/batches/renew/",
               lambda route: held.append(route) if not held else route.continue_())
    page.goto(live_server.url + "/p/latelabels/annotate/")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    for _ in range(50):  # the renewal the page sends on load is held
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1

    billing = Label.objects.get(project=project, name="billing")
    billing.name = "invoices"
    billing.save()
    late = held[0].fetch()  # the server answers the renewal now, with the labels as they are: invoices
    assert [lab["name"] for lab in late.json()["labels"] if lab["id"] == billing.pk] == ["invoices"]
    billing.name = "payments"
    billing.save()

    page.keyboard.press("2")  # item 1: login; its reply brings the labels as they are now
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    label_one = page.locator(f'button.label-btn[data-label="{billing.pk}"]')
    expect(label_one).to_contain_text("payments")

    held[0].fulfill(response=late)  # the renewal's reply arrives at last
    page.wait_for_timeout(1000)
    # The page keeps the project's labels as they are; it does not announce a rename nobody made.
    expect(page.locator("#notice")).not_to_contain_text("“payments” is now “invoices”")
    expect(label_one).to_contain_text("payments")
    page.keyboard.press("1")  # item 2, with the key of the label the page shows
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    expect(page.locator("#notice")).not_to_contain_text("Not saved")
    assert live(project) == {items[0].pk: ("login", False), items[1].pk: ("payments", False)}
