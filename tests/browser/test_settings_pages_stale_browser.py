"""Two leads in headless Chromium on the settings, labels and sources pages: a page saved after
another lead's save keeps that save (what Chromium posts back, textarea line breaks included,
decides it); a field both changed is refused with the stored value; Enter in a field saves its
own form."""
import pytest

from labeling.projects.models import Label, Membership, Project, Source

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_leads(make_user, project_factory):
    project = project_factory("support")
    Project.objects.filter(pk=project.pk).update(wave_size=100, guidelines="Read twice.\nThen label.")
    for username in ("lena", "lars"):
        Membership.objects.create(user=make_user(username), project=project, role=Membership.LEAD)
    return project


@pytest.fixture
def second_page(browser, live_server, login, two_leads):
    """A second browser (its own cookies) signed in as the other lead."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    login(page, "lars")
    yield page
    context.close()


def unexpected(js_errors):
    # Chromium logs every page answered with an error status, the refused save's 409 included.
    return [e for e in js_errors if "the server responded with a status of 409" not in e]


def label_field(page, label, field):
    """The input of ``field`` in the row of the label named ``label``."""
    row = page.locator("#labels-form tr", has=page.locator(f"input[name$='-name'][value='{label}']"))
    return row.locator(f"[name$='-{field}']")


def save_with_enter(page, selector):
    """Press Enter in a field, as a keyboard user saves, and wait for the page that answers."""
    with page.expect_navigation():
        page.locator(selector).press("Enter")


def test_stale_settings_page_keeps_the_other_leads_wave_size(page, second_page, live_server, login, two_leads,
                                                             js_errors, screenshot):
    login(page, "lena")
    page.goto(live_server.url + "/p/support/settings/")
    second_page.goto(live_server.url + "/p/support/settings/")
    second_page.fill("input[name=wave_size]", "200")
    save_with_enter(second_page, "input[name=wave_size]")
    assert "Settings saved." in second_page.locator(".messages").text_content()
    assert Project.objects.get(pk=two_leads.pk).wave_size == 200

    page.fill("textarea[name=description]", "Tickets from the web form.")
    with page.expect_navigation():
        page.click(".settings-form button[type=submit]")
    assert "Settings saved." in page.locator(".messages").text_content()
    stored = Project.objects.get(pk=two_leads.pk)
    assert (stored.wave_size, stored.description) == (200, "Tickets from the web form.")
    assert stored.guidelines == "Read twice.\nThen label."  # not rewritten with the browser's CRLF
    assert page.locator("input[name=wave_size]").input_value() == "200"

    # Both change the batch size: the second save is refused with the value stored now.
    second_page.goto(live_server.url + "/p/support/settings/")
    second_page.fill("input[name=batch_size]", "10")
    save_with_enter(second_page, "input[name=batch_size]")
    page.fill("input[name=batch_size]", "50")
    with page.expect_navigation() as answer:
        page.locator("input[name=batch_size]").press("Enter")
    assert answer.value.status == 409
    errors = page.locator("#settings-errors")
    assert "Batch size: changed by someone else since this page loaded; it is now “10”." in errors.text_content()
    assert page.locator("h1").text_content() == "Support — settings"
    screenshot(page, "settings-stale-conflict")
    assert Project.objects.get(pk=two_leads.pk).batch_size == 10
    save_with_enter(page, "input[name=batch_size]")  # saving again keeps this lead's value, knowingly
    assert "Settings saved." in page.locator(".messages").text_content()
    assert Project.objects.get(pk=two_leads.pk).batch_size == 50
    assert unexpected(js_errors) == []


def test_stale_labels_and_sources_pages_keep_the_other_leads_changes(page, second_page, live_server, login,
                                                                      two_leads, js_errors, screenshot):
    login(page, "lena")
    page.goto(live_server.url + "/p/support/settings/labels/")
    second_page.goto(live_server.url + "/p/support/settings/labels/")
    label_field(second_page, "login", "hotkey").fill("n")
    label_field(second_page, "login", "description").fill("set by other lead")
    with second_page.expect_navigation():
        second_page.click("#labels-form button[type=submit]")
    assert "Labels saved." in second_page.locator(".messages").text_content()

    label_field(page, "billing", "precision_target").fill("0.9")
    with page.expect_navigation():
        label_field(page, "billing", "precision_target").press("Enter")
    assert "Labels saved." in page.locator(".messages").text_content()
    login_label = Label.objects.get(project=two_leads, name="login")
    assert (login_label.hotkey, login_label.description) == ("n", "set by other lead")
    assert Label.objects.get(project=two_leads, name="billing").precision_target == 0.9

    page.goto(live_server.url + "/p/support/settings/sources/")
    second_page.goto(live_server.url + "/p/support/settings/sources/")
    second_page.fill("input[name=sources-0-quota]", "0.3")
    second_page.fill("input[name=sources-1-quota]", "0.7")
    save_with_enter(second_page, "input[name=sources-1-quota]")
    assert "Sources and quotas saved." in second_page.locator(".messages").text_content()

    page.fill("input[name=sources-0-quota]", "0.4")
    page.fill("input[name=sources-1-quota]", "0.6")
    with page.expect_navigation() as answer:
        page.locator("input[name=sources-1-quota]").press("Enter")
    assert answer.value.status == 409
    assert "it is now “0.3”" in page.locator("#sources-form").text_content()
    screenshot(page, "sources-stale-conflict")
    assert sorted(Source.objects.filter(project=two_leads).values_list("quota", flat=True)) == [0.3, 0.7]

    # A source the other lead deletes meanwhile: said, nothing saved.
    page.goto(live_server.url + "/p/support/settings/sources/")
    Source.objects.create(project=two_leads, name="forum", quota=0.0)
    page.goto(live_server.url + "/p/support/settings/sources/")
    Source.objects.filter(project=two_leads, name="forum").delete()
    page.fill("input[name=sources-0-quota]", "0.5")
    page.fill("input[name=sources-2-quota]", "0.5")
    save_with_enter(page, "input[name=sources-2-quota]")
    box = page.locator("#quota-error")
    assert box.is_visible() and "The source “forum” was deleted by someone else" in box.text_content()
    assert page.locator(".row-errors").is_visible()
    assert sorted(Source.objects.filter(project=two_leads).values_list("quota", flat=True)) == [0.3, 0.7]
    assert unexpected(js_errors) == []
