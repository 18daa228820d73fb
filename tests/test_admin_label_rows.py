"""The Django admin's project page edits the project's labels as inline rows. Its rows are checked
as a whole, as the labels page checks them: two rows ticking Other in one save are refused with the
message (each row alone passed its checks, and the commit then failed on the one-Other constraint:
a 500)."""
from html.parser import HTMLParser

import pytest

from labeling.projects.models import Label

pytestmark = pytest.mark.django_db


class _Form(HTMLParser):
    """The change form's fields as the browser would post them (inputs, checked boxes, selects)."""

    def __init__(self):
        super().__init__()
        self.data, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self.data[name], self._textarea = "", name
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _change_form(client, project):
    page = client.get(f"/admin/projects/project/{project.pk}/change/")
    assert page.status_code == 200
    parser = _Form()
    parser.feed(page.content.decode())
    return parser.data


def _row_prefix(data, label):
    return next(k[: -len("-id")] for k, v in data.items() if k.endswith("-id") and k.startswith("labels")
                and v == str(label.pk))


def test_two_rows_ticking_other_are_refused_with_the_message(admin_client, project_factory):
    project = project_factory("adm", labels=("billing", "login"))
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    data = _change_form(admin_client, project)
    for label in (billing, login):
        data[f"{_row_prefix(data, label)}-is_other"] = "on"
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 200  # the form again, not a 500
    assert "a project has one top-level Other label" in answer.content.decode()
    assert not Label.objects.filter(project=project, is_other=True).exists()


def test_one_row_ticking_other_is_saved(admin_client, project_factory):
    project = project_factory("adm1", labels=("billing", "login"))
    login = project.labels.get(name="login")
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, login)}-is_other"] = "on"
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert list(Label.objects.filter(project=project, is_other=True).values_list("name", flat=True)) == ["login"]
