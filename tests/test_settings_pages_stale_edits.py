"""The settings, labels and sources pages when another lead saves meanwhile: a page saves only the
fields its lead changed, refuses (with the value stored now) a field both changed, says when a
row's label or source was deleted or a source added since the page loaded, and saves nothing
then. Also the settings page after a refused save (the stored name in the title) and a share that
is not a number (no false total).

Each page is read and posted back the way a browser submits it (every control of the form as the
page rendered it, textarea line breaks as CRLF), so what a page carries decides the outcome."""
from html.parser import HTMLParser

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from rest_framework.test import APIClient

from labeling.projects.models import Membership, Project, Source

pytestmark = pytest.mark.django_db

SETTINGS, LABELS, SOURCES = "/p/alpha/settings/", "/p/alpha/settings/labels/", "/p/alpha/settings/sources/"


class FormControls(HTMLParser):
    """The successful controls of the page's form whose id or class is ``marker``, as a browser
    would submit them: {name: [values]}."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker, self.inside, self.values = marker, False, {}
        self.textarea = self.select = None
        self.first_option = self.selected = None

    def add(self, name, value):
        self.values.setdefault(name, []).append(value.replace("\r\n", "\n").replace("\n", "\r\n"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = self.marker in (attrs.get("id") or "") or self.marker in (attrs.get("class") or "").split()
        if not self.inside or not attrs.get("name") and tag != "option":
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.add(attrs["name"], attrs.get("value") or "on")
            elif kind not in ("submit", "button", "reset"):
                self.add(attrs["name"], attrs.get("value") or "")
        elif tag == "textarea":
            self.textarea, self.text = attrs["name"], ""
        elif tag == "select":
            self.select, self.first_option, self.selected = attrs["name"], None, None
        elif tag == "option" and self.select:
            value = attrs.get("value", "")
            self.first_option = value if self.first_option is None else self.first_option
            if "selected" in attrs:
                self.selected = value

    def handle_data(self, data):
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea:
            # HTML drops the line break that opens a textarea's content.
            self.add(self.textarea, self.text[1:] if self.text.startswith("\n") else self.text)
            self.textarea = None
        elif tag == "select" and self.select:
            self.add(self.select, self.selected if self.selected is not None else self.first_option or "")
            self.select = None


def open_page(client, url, marker):
    """GET a page and return what its form would submit, as a mutable {name: [values]}."""
    response = client.get(url)
    assert response.status_code == 200
    parser = FormControls(marker)
    parser.feed(response.content.decode())
    assert parser.values, f"no form {marker!r} on {url}"
    return parser.values


def row_prefix(controls, prefix, name):
    """labels-3 for the row whose name field shows ``name``."""
    return next(key[: -len("-name")] for key, values in controls.items()
                if key.startswith(prefix + "-") and key.endswith("-name") and values == [name])


@pytest.fixture
def leads(world, make_user, client):
    """alpha's lead on ``client`` and a second lead of alpha, with a client and an API client."""
    second = make_user("lena2")
    Membership.objects.create(user=second, project=world["alpha"], role=Membership.LEAD)
    Project.objects.filter(pk=world["alpha"].pk).update(wave_size=100, guidelines="Read twice.\nThen label.")
    client.force_login(world["lead"])
    other = Client()
    other.force_login(second)
    api = APIClient()
    api.force_authenticate(second)
    return {"lead": client, "other": other, "api": api, "alpha": world["alpha"]}


def stored(alpha):
    return Project.objects.get(pk=alpha.pk)


# --- bug 1: a stale page writes only what its lead changed ------------------------------------

def test_stale_settings_page_keeps_the_wave_size_another_lead_saved(leads):
    mine = open_page(leads["lead"], SETTINGS, "settings-form")
    theirs = open_page(leads["other"], SETTINGS, "settings-form")
    theirs["wave_size"] = ["200"]
    assert leads["other"].post(SETTINGS, theirs).status_code == 302
    assert stored(leads["alpha"]).wave_size == 200

    mine["guidelines"] = ["Read three times."]
    response = leads["lead"].post(SETTINGS, mine)
    assert response.status_code == 302, response.content.decode()[:3000]
    alpha = stored(leads["alpha"])
    assert (alpha.wave_size, alpha.guidelines) == (200, "Read three times.")


def test_settings_field_both_leads_changed_is_refused_with_the_stored_value(leads):
    mine = open_page(leads["lead"], SETTINGS, "settings-form")
    assert leads["api"].patch("/api/projects/alpha/", {"wave_size": 200}, format="json").status_code == 200
    mine["wave_size"], mine["description"] = ["150"], ["Tickets from the web form."]
    response = leads["lead"].post(SETTINGS, mine)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Nothing was saved." in body
    assert "Wave size: changed by someone else since this page loaded; it is now “200”." in body, body[:4000]
    alpha = stored(leads["alpha"])
    assert (alpha.wave_size, alpha.description) == (200, "")

    # The page now carries the stored value: saving it again keeps what this lead entered, knowingly.
    again = FormControls("settings-form")
    again.feed(body)
    assert again.values["wave_size"] == ["150"]
    assert leads["lead"].post(SETTINGS, again.values).status_code == 302
    alpha = stored(leads["alpha"])
    assert (alpha.wave_size, alpha.description) == (150, "Tickets from the web form.")


def test_same_value_saved_by_both_leads_is_no_conflict(leads):
    mine = open_page(leads["lead"], SETTINGS, "settings-form")
    assert leads["api"].patch("/api/projects/alpha/", {"wave_size": 200}, format="json").status_code == 200
    mine["wave_size"] = ["200"]
    assert leads["lead"].post(SETTINGS, mine).status_code == 302
    assert stored(leads["alpha"]).wave_size == 200


def test_stale_labels_page_keeps_another_leads_hotkey_and_description(leads):
    alpha = leads["alpha"]
    login = alpha.labels.get(name="login")
    mine = open_page(leads["lead"], LABELS, "labels-form")
    patched = leads["api"].patch(f"/api/projects/alpha/labels/{login.pk}/",
                                 {"hotkey": "n", "description": "set by other lead"}, format="json")
    assert patched.status_code == 200, patched.json()
    mine[row_prefix(mine, "labels", "billing") + "-description"] = ["Money matters."]
    response = leads["lead"].post(LABELS, mine)
    assert response.status_code == 302, response.content.decode()[:3000]
    login.refresh_from_db()
    assert (login.hotkey, login.description) == ("n", "set by other lead")
    assert alpha.labels.get(name="billing").description == "Money matters."


def test_label_field_both_leads_changed_is_refused_with_the_stored_value(leads):
    alpha = leads["alpha"]
    login = alpha.labels.get(name="login")
    mine = open_page(leads["lead"], LABELS, "labels-form")
    leads["api"].patch(f"/api/projects/alpha/labels/{login.pk}/",
                       {"hotkey": "n", "description": "set by other lead"}, format="json")
    row = row_prefix(mine, "labels", "login")
    mine[row + "-description"] = ["Sign-in trouble."]
    mine[row_prefix(mine, "labels", "fraud") + "-precision_target"] = ["0.9"]
    response = leads["lead"].post(LABELS, mine)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Description: changed by someone else since this page loaded; it is now “set by other lead”." in body
    assert "Nothing was saved" in body
    login.refresh_from_db()
    assert (login.hotkey, login.description) == ("n", "set by other lead")
    assert alpha.labels.get(name="fraud").precision_target is None


def test_stale_sources_page_keeps_another_leads_quotas(leads):
    alpha = leads["alpha"]
    email, chat = alpha.sources.get(name="email"), alpha.sources.get(name="chat")
    mine = open_page(leads["lead"], SOURCES, "sources-form")
    put = leads["api"].put("/api/projects/alpha/sources/", [{"id": email.pk, "name": "email", "quota": 0.3},
                                                            {"id": chat.pk, "name": "chat", "quota": 0.7}],
                           format="json")
    assert put.status_code == 200, put.json()
    mine[row_prefix(mine, "sources", "chat") + "-name"] = ["live chat"]
    response = leads["lead"].post(SOURCES, mine)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert sorted(alpha.sources.values_list("name", "quota")) == [("email", 0.3), ("live chat", 0.7)]

    mine = open_page(leads["lead"], SOURCES, "sources-form")
    leads["api"].put("/api/projects/alpha/sources/", [{"id": email.pk, "name": "email", "quota": 0.5},
                                                      {"id": chat.pk, "name": "live chat", "quota": 0.5}], format="json")
    mine[row_prefix(mine, "sources", "email") + "-quota"] = ["0.2"]
    mine[row_prefix(mine, "sources", "live chat") + "-quota"] = ["0.8"]
    body = leads["lead"].post(SOURCES, mine).content.decode()
    assert "Quota: changed by someone else since this page loaded; it is now “0.5”." in body, body[:4000]
    assert sorted(alpha.sources.values_list("quota", flat=True)) == [0.5, 0.5]


# --- bug 2: a row deleted (or a source added) meanwhile is said, and nothing is saved -----------

def test_sources_page_says_a_source_was_deleted_meanwhile(leads):
    alpha = leads["alpha"]
    email, chat = alpha.sources.get(name="email"), alpha.sources.get(name="chat")
    Source.objects.create(project=alpha, name="forum", quota=0.0)
    mine = open_page(leads["lead"], SOURCES, "sources-form")
    leads["api"].put("/api/projects/alpha/sources/", [{"id": email.pk, "name": "email", "quota": 0.5},
                                                      {"id": chat.pk, "name": "chat", "quota": 0.5}], format="json")
    mine[row_prefix(mine, "sources", "email") + "-quota"] = ["0.4"]
    mine[row_prefix(mine, "sources", "chat") + "-quota"] = ["0.6"]
    response = leads["lead"].post(SOURCES, mine)
    assert response.status_code == 409
    body = response.content.decode()
    assert ("The source “forum” was deleted by someone else since this page loaded; nothing was saved. "
            "Reload the page to see the sources as they are now.") in body, body[:4000]
    assert "This source was deleted by someone else since this page loaded." in body  # on its row
    assert sorted(alpha.sources.values_list("name", "quota")) == [("chat", 0.5), ("email", 0.5)]


def test_sources_page_says_a_source_was_added_meanwhile(leads):
    alpha = leads["alpha"]
    mine = open_page(leads["lead"], SOURCES, "sources-form")
    Source.objects.create(project=alpha, name="forum", quota=0.0)
    mine[row_prefix(mine, "sources", "email") + "-quota"] = ["0.4"]
    mine[row_prefix(mine, "sources", "chat") + "-quota"] = ["0.6"]
    response = leads["lead"].post(SOURCES, mine)
    assert response.status_code == 409
    assert "The source “forum” was added by someone else since this page loaded" in response.content.decode()
    assert sorted(alpha.sources.values_list("name", "quota")) == [("chat", 0.5), ("email", 0.5), ("forum", 0.0)]


def test_labels_page_says_a_label_was_deleted_meanwhile(leads):
    alpha = leads["alpha"]
    fraud = alpha.labels.get(name="fraud")
    mine = open_page(leads["lead"], LABELS, "labels-form")
    assert leads["api"].delete(f"/api/projects/alpha/labels/{fraud.pk}/").status_code == 204
    mine[row_prefix(mine, "labels", "billing") + "-description"] = ["Money matters."]
    response = leads["lead"].post(LABELS, mine)
    assert response.status_code == 409
    body = response.content.decode()
    assert ("The label “fraud” was deleted by someone else since this page loaded; nothing was saved. "
            "Reload the page to see the labels as they are now.") in body, body[:4000]
    assert "This label was deleted by someone else since this page loaded." in body  # on its row
    assert alpha.labels.get(name="billing").description == "About billing"
    assert not alpha.labels.filter(name="fraud").exists()


# --- bug 3 and bug 4: what a refused settings page shows -------------------------------------

def test_refused_settings_page_shows_the_stored_name(leads):
    mine = open_page(leads["lead"], SETTINGS, "settings-form")
    mine["name"], mine["wave_size"] = ["RENAMED PROJECT"], ["0"]
    body = leads["lead"].post(SETTINGS, mine).content.decode()
    assert "Nothing was saved." in body and "Wave size must be at least 1; got 0." in body
    assert "<title>Settings · Alpha" in body and "<h1>Alpha — settings</h1>" in body
    assert "RENAMED PROJECT — settings" not in body
    assert 'value="RENAMED PROJECT"' in body  # the lead's entry stays in the field
    assert stored(leads["alpha"]).name == "Alpha"


def test_share_that_is_not_a_number_gets_no_false_total(leads):
    mine = open_page(leads["lead"], SETTINGS, "settings-form")
    mine["mix_rare"] = ["abc"]
    body = leads["lead"].post(SETTINGS, mine).content.decode()
    assert "Rare share: Enter a number." in body
    assert "add up to" not in body, body[:4000]


def test_unchanged_page_with_line_breaks_saves_without_conflict(leads):
    """Guidelines stored with LF line breaks come back from a browser as CRLF: not a change."""
    mine = open_page(leads["lead"], SETTINGS, "settings-form")
    assert mine["guidelines"] == ["Read twice.\r\nThen label."]
    mine["batch_size"] = ["10"]
    assert leads["lead"].post(SETTINGS, mine).status_code == 302
    alpha = stored(leads["alpha"])
    assert (alpha.batch_size, alpha.guidelines) == (10, "Read twice.\nThen label.")


def test_pages_saved_untouched_change_nothing(leads):
    """Every field of each form is on its page: saved as loaded, nothing is written."""
    alpha = leads["alpha"]
    labels = list(alpha.labels.order_by("pk").values())
    sources = list(alpha.sources.order_by("pk").values())
    before = model_to_dict(stored(alpha))
    for url, marker in ((SETTINGS, "settings-form"), (LABELS, "labels-form"), (SOURCES, "sources-form")):
        response = leads["lead"].post(url, open_page(leads["lead"], url, marker))
        assert response.status_code == 302, response.content.decode()[:3000]
    assert model_to_dict(stored(alpha)) == before
    assert list(alpha.labels.order_by("pk").values()) == labels
    assert list(alpha.sources.order_by("pk").values()) == sources
