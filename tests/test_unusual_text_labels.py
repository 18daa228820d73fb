"""Label names that look empty or look like another label's are refused, with a message naming the
field, through the API, the labels page and the admin: names made only of zero-width spaces or
direction controls, and names equal to another label's once NFKC-normalised and stripped of
invisible characters ("a\u200bb" beside "ab", full-width letters). Look-alikes stored before the
rule stay as they are and can still be edited."""
import pytest

from labeling.projects.models import Label

from .test_browse_api import api_as
from .test_projects_pages import labels_post

pytestmark = pytest.mark.django_db

INVISIBLE_ONLY = ["\u200b", "\u200b\u200b\u200b", "\u202e\u202c", "\u2066\u2069", "\ufeff", "\u200d\u00ad"]
LOOK_ALIKES = ["a\u200bb", "ab\u200e", "\u202dab\u202c", "ａｂ"]  # each looks like "ab"


@pytest.mark.parametrize("name", INVISIBLE_ONLY, ids=ascii)
def test_api_refuses_a_name_of_invisible_characters_only(world, name):
    answer = api_as(world["lead"]).post("/api/projects/alpha/labels/", {"name": name}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["name"] and "invisible characters" in answer.json()["name"][0]
    assert not Label.objects.filter(project=world["alpha"], name=name).exists()


@pytest.mark.parametrize("name", [*LOOK_ALIKES, "ab"], ids=ascii)
def test_api_refuses_a_name_that_looks_like_another_labels(world, name):
    alpha = world["alpha"]
    Label.objects.create(project=alpha, name="ab")
    before = sorted(alpha.labels.values_list("name", flat=True))
    answer = api_as(world["lead"]).post("/api/projects/alpha/labels/", {"name": name}, format="json")
    assert answer.status_code == 400, answer.content
    # the same message for an exact duplicate and a look-alike, naming the label it looks like
    # ... and the new name with its invisible characters written out, so the lead sees why they clash
    written = "".join(f"\\u{ord(c):04x}" if c in "\u200b\u200e\u202d\u202c" else c for c in name)
    assert answer.json() == {"name": ["A label named “ab” already exists in this project (names that look the same, "
                                      "ignoring invisible characters and variants, count as one)."
                                      + ("" if name == "ab" else f" The new name, written out, is “{written}”.")]}
    assert sorted(alpha.labels.values_list("name", flat=True)) == before


def test_renaming_into_a_look_alike_is_refused_and_stored_look_alikes_stay_editable(world):
    alpha = world["alpha"]
    lead = api_as(world["lead"])
    billing = alpha.labels.get(name="billing")
    answer = lead.patch(f"/api/projects/alpha/labels/{billing.pk}/", {"name": "log\u200bin"}, format="json")
    assert answer.status_code == 400 and "“login” already exists" in answer.json()["name"][0], answer.content
    billing.refresh_from_db()
    assert billing.name == "billing"
    # stored before the rule (written past it): left as they are, their other fields still editable
    twin = Label.objects.create(project=alpha, name="bill\u200bing")
    blank = Label.objects.create(project=alpha, name="\u200b")
    for label in (twin, billing, blank):
        answer = lead.patch(f"/api/projects/alpha/labels/{label.pk}/", {"description": "kept"}, format="json")
        assert answer.status_code == 200, answer.content
    assert set(alpha.labels.filter(description="kept").values_list("name", flat=True)) == {
        "billing", "bill\u200bing", "\u200b"}


def test_labels_page_saves_a_project_holding_look_alikes_stored_before_the_rule(client, world):
    """As on the API: look-alikes stored before the rule stay editable on the labels page."""
    alpha = world["alpha"]
    Label.objects.create(project=alpha, name="bill\u200bing")
    client.force_login(world["lead"])
    rows = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey, "description": "kept"}
            for label in alpha.labels.all()]
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, rows))
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    assert set(alpha.labels.values_list("description", flat=True)) == {"kept"}
    # renaming one of them into the other's look is still refused
    rows[0]["name"] = "bil\u200bling"
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, rows))
    assert answer.status_code == 200 and "Label names must be unique" in answer.content.decode()


def test_labels_page_refuses_invisible_and_look_alike_names(client, world):
    alpha = world["alpha"]
    client.force_login(world["lead"])
    stored = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey} for label in alpha.labels.all()]
    before = sorted(alpha.labels.values_list("name", flat=True))

    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "\u200b\u200b"}]))
    assert answer.status_code == 200
    assert "invisible characters" in answer.content.decode()
    # two new rows that look alike: the message spells the invisible character out
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "ab"},
                                                                          {"name": "a\u200bb"}]))
    assert answer.status_code == 200
    assert "Label names must be unique; repeated: “ab”, “a\\u200bb”." in answer.content.decode()
    # a new row that looks like a stored label (the page lists every label of the project)
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "fr\u200baud"}]))
    assert answer.status_code == 200
    assert "Label names must be unique; repeated: “fraud”, “fr\\u200baud”." in answer.content.decode()
    assert sorted(alpha.labels.values_list("name", flat=True)) == before


def test_admin_refuses_look_alike_and_invisible_names(admin_client, project_factory):
    project = project_factory("adm", labels=("billing", "login"))
    for name, message in (("bill\u200bing", "A label named “billing” already exists"),
                          ("\u200b", "invisible characters")):
        answer = admin_client.post("/admin/projects/label/add/", {"project": project.pk, "name": name, "order": 0})
        assert answer.status_code == 200, answer.status_code  # the form again with its error
        assert message in answer.content.decode()
    assert sorted(project.labels.values_list("name", flat=True)) == ["billing", "login"]
