"""A lead's paths that create or rename labels judge a new or renamed name by the rule imports use
(labeling/items/look_alike.py): names that read the same ignoring case, invisible characters,
variants and Cyrillic or Greek letters that print as Latin ones are one name, and a new name that
mixes Latin with Cyrillic or Greek letters that print as Latin in a word is refused. Each path (the service, the API,
the labels page, the new-project form and its API, the admin's project page and label page) says so
naming the field, with both names written out so that the difference shows. Labels stored together
before the rule keep working: their other fields stay editable, and a rename to a name unlike the
rest is saved."""
import html

import pytest
from django.core.exceptions import ValidationError

from labeling.projects import services
from labeling.projects.models import Label, Project

from .test_admin_label_rows import _change_form, _row_prefix
from .test_browse_api import api_as
from .test_projects_pages import labels_post
from .test_unusual_text_labels_paths import _add_rows

pytestmark = pytest.mark.django_db

CYRILLIC_A = "\u0430"  # prints as a Latin "a"
FULL_RULE = ("names that look the same, ignoring case, invisible characters, variants and letters of another script "
             "that look like Latin ones, count as one")


def _names(project):
    return sorted(project.labels.values_list("name", flat=True))


def _page(answer) -> str:
    return html.unescape(answer.content.decode())


# --- the service (save_label: the API's write path) ------------------------------------------------

@pytest.mark.parametrize(("name", "written"), [
    ("Billing", "Billing"), ("BILLING", "BILLING"),
    ("b\u0456lling", "b\\u0456lling"),  # Cyrillic і
    ("\u0392illing", "\\u0392illing"),  # Greek capital beta
], ids=ascii)
def test_save_label_refuses_a_new_name_that_looks_like_a_stored_one(project_factory, name, written):
    project = project_factory("svc", labels=("billing", "login"))
    with pytest.raises(ValidationError) as refused:
        services.save_label(project, name=name)
    assert refused.value.message_dict == {"name": [
        f"A label named “billing” already exists in this project ({FULL_RULE}). The new name, written out, is “{written}”."]}
    assert _names(project) == ["billing", "login"]


def test_save_label_refuses_a_rename_into_a_look_alike_and_a_name_mixing_scripts(project_factory):
    project = project_factory("svc2", labels=("billing", "login"))
    login = project.labels.get(name="login")
    with pytest.raises(ValidationError) as refused:
        services.save_label(project, login, name="Billing")
    assert "A label named “billing” already exists" in refused.value.message_dict["name"][0]
    with pytest.raises(ValidationError) as refused:
        services.save_label(project, name=f"p{CYRILLIC_A}yments")
    message = refused.value.message_dict["name"][0]
    assert message.startswith("Name “p\\u0430yments” is refused: its word 'p\\u0430yments' mixes Latin letters with Cyrillic "
                              "ones that print as Latin (\\u0430)"), message
    assert _names(project) == ["billing", "login"]
    # names all in one script, and names unlike the rest, are saved as before
    services.save_label(project, name="платежи")
    services.save_label(project, login, name="sign-in")
    assert _names(project) == ["billing", "sign-in", "платежи"]


# --- the API ---------------------------------------------------------------------------------------

def test_api_refuses_a_case_or_cyrillic_look_alike(world):
    alpha, lead = world["alpha"], api_as(world["lead"])
    before = _names(alpha)
    answer = lead.post("/api/projects/alpha/labels/", {"name": "Fraud"}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"name": [f"A label named “fraud” already exists in this project ({FULL_RULE}). "
                                      "The new name, written out, is “Fraud”."]}
    login = alpha.labels.get(name="login")
    answer = lead.patch(f"/api/projects/alpha/labels/{login.pk}/", {"name": "b\u0456lling"},
                        format="json")
    assert answer.status_code == 400, answer.content
    assert "The new name, written out, is “b\\u0456lling”." in answer.json()["name"][0]
    assert _names(alpha) == before


# --- the labels page -------------------------------------------------------------------------------

def test_labels_page_refuses_a_new_or_renamed_look_alike(client, world):
    alpha = world["alpha"]
    client.force_login(world["lead"])
    stored = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey} for label in alpha.labels.all()]
    before = _names(alpha)
    # a new row differing from a stored label by case only
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "Fraud"}]))
    assert answer.status_code == 200
    assert "Label names must be unique; repeated: “Fraud”, “fraud”." in _page(answer)
    # a stored label renamed to look like another (Cyrillic а)
    renamed = [dict(row, name=f"fr{CYRILLIC_A}ud") if row["name"] == "login" else row for row in stored]
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, renamed))
    assert answer.status_code == 200
    assert "Label names must be unique; repeated: “fraud”, “fr\\u0430ud”." in _page(answer)
    # two new rows alike by case
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "Refund"},
                                                                          {"name": "refund"}]))
    assert answer.status_code == 200
    assert "Label names must be unique; repeated: “Refund”, “refund”." in _page(answer)
    # a new name mixing scripts in a word
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": f"p{CYRILLIC_A}yments"}]))
    assert answer.status_code == 200
    assert "Name “p\\u0430yments” is refused: its word 'p\\u0430yments' mixes Latin letters with Cyrillic" in _page(answer)
    assert _names(alpha) == before


# --- the new-project form and its API --------------------------------------------------------------

@pytest.mark.parametrize(("labels", "message"), [
    ("billing\nBilling", "Line 2: “Billing” looks like “billing”, already named on line 1; label names are unique "
                         f"within a project ({FULL_RULE})."),
    ("billing > refund\nb\u0456lling > late", "Line 2: “b\\u0456lling” looks like “billing”, already named on line 1"),
    ("Spam > spam", "Line 1: “spam” looks like “Spam”, already named on line 1"),
    (f"billing\np{CYRILLIC_A}yments", "Line 2: a label name “p\\u0430yments” is refused: its word 'p\\u0430yments' "
                                      "mixes Latin letters with Cyrillic ones that print as Latin (\\u0430)"),
], ids=ascii)
def test_new_project_form_and_api_refuse_look_alike_label_lines(client, world, labels, message):
    client.force_login(world["lead"])
    answer = client.post("/projects/new/", {"name": "Tickets", "slug": "tickets", "sources": "web", "labels": labels})
    assert answer.status_code == 200
    assert message in _page(answer)
    answer = api_as(world["lead"]).post("/api/projects/", {"slug": "tickets", "name": "Tickets",
                                                           "labels": labels.splitlines()}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["labels"] and answer.json()["labels"][0].startswith(message), answer.json()
    assert not Project.objects.filter(slug="tickets").exists()


# --- the admin -------------------------------------------------------------------------------------

def test_admin_refuses_look_alike_label_rows_and_labels(admin_client, project_factory):
    project = project_factory("adm", labels=("billing", "login"))
    url = f"/admin/projects/project/{project.pk}/change/"
    # the project page: a new row differing by case, then a stored row renamed with a Cyrillic letter
    answer = admin_client.post(url, _add_rows(_change_form(admin_client, project), ["Login"]))
    assert answer.status_code == 200, answer.status_code
    assert (f"A label named “login” already exists in this project ({FULL_RULE}). The new name, written out, "
            "is “Login”.") in _page(answer)
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, project.labels.get(name='login'))}-name"] = "b\u0456lling"
    answer = admin_client.post(url, data)
    assert answer.status_code == 200 and "The new name, written out, is “b\\u0456lling”." in _page(answer)
    # the label page
    answer = admin_client.post("/admin/projects/label/add/", {"project": project.pk, "name": "BILLING", "order": 0})
    assert answer.status_code == 200 and "A label named “billing” already exists" in _page(answer)
    answer = admin_client.post("/admin/projects/label/add/", {"project": project.pk, "name": f"p{CYRILLIC_A}yments",
                                                              "order": 0})
    assert answer.status_code == 200 and "Name “p\\u0430yments” is refused" in _page(answer)
    assert _names(project) == ["billing", "login"]


# --- look-alikes stored before the rule ------------------------------------------------------------

@pytest.fixture
def stored_pair(world):
    """banking, Banking and b\u0430nking, written past every check (as before the rule), and a name mixing scripts."""
    alpha = world["alpha"]
    for order, name in enumerate(("banking", "Banking", f"b{CYRILLIC_A}nking", f"p{CYRILLIC_A}yments"), start=10):
        Label.objects.create(project=alpha, name=name, order=order)
    return alpha


def test_stored_look_alikes_stay_editable_through_the_service_and_api(world, stored_pair):
    lead = api_as(world["lead"])
    for label in stored_pair.labels.all():
        answer = lead.patch(f"/api/projects/alpha/labels/{label.pk}/", {"description": "kept", "recall_target": 0.5},
                            format="json")
        assert answer.status_code == 200, (label.name, answer.content)
    assert set(stored_pair.labels.values_list("description", flat=True)) == {"kept"}
    upper = stored_pair.labels.get(name="Banking")
    services.save_label(stored_pair, upper, name="Finance")  # unlike the rest: saved
    with pytest.raises(ValidationError):  # still like "banking"
        services.save_label(stored_pair, stored_pair.labels.get(name="Finance"), name="BANKING")
    assert _names(stored_pair) == sorted(["Finance", "banking", "b\u0430nking", "billing", "fraud", "login",
                                          "p\u0430yments"])


def test_stored_look_alikes_stay_editable_on_the_labels_page(client, world, stored_pair):
    client.force_login(world["lead"])
    rows = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey, "description": "kept", "order": label.order}
            for label in stored_pair.labels.all()]
    answer = client.post("/p/alpha/settings/labels/", labels_post(stored_pair, rows))
    assert answer.status_code == 302, _page(answer)[-3000:]
    assert set(stored_pair.labels.values_list("description", flat=True)) == {"kept"}
    for row in rows:
        if row["name"] == f"b{CYRILLIC_A}nking":
            row["name"] = "savings"
    answer = client.post("/p/alpha/settings/labels/", labels_post(stored_pair, rows))
    assert answer.status_code == 302, _page(answer)[-3000:]
    assert "savings" in _names(stored_pair) and f"b{CYRILLIC_A}nking" not in _names(stored_pair)


def test_stored_look_alikes_stay_editable_in_the_admin(admin_client, world, stored_pair):
    url = f"/admin/projects/project/{stored_pair.pk}/change/"
    data = _change_form(admin_client, stored_pair)
    for label in stored_pair.labels.all():
        data[f"{_row_prefix(data, label)}-description"] = "kept"
    data[f"{_row_prefix(data, stored_pair.labels.get(name='Banking'))}-name"] = "Finance"
    answer = admin_client.post(url, data)
    assert answer.status_code == 302, _page(answer)[:3000]
    assert set(stored_pair.labels.values_list("description", flat=True)) == {"kept"}
    assert "Finance" in _names(stored_pair) and "Banking" not in _names(stored_pair)
    twin = stored_pair.labels.get(name=f"b{CYRILLIC_A}nking")
    answer = admin_client.post(f"/admin/projects/label/{twin.pk}/change/", {
        "project": stored_pair.pk, "name": twin.name, "description": "again", "order": twin.order, "hotkey": ""})
    assert answer.status_code == 302, _page(answer)[:3000]
    twin.refresh_from_db()
    assert twin.description == "again"
