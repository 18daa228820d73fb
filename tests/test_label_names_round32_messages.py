"""How label names read in messages and attributes. A message saying two label names look alike
writes their invisible characters out (\\u200b): printed raw, the two names read the same and a
right-to-left override reverses the rest of the message (API 400s, the admin, import errors). User
text set into an attribute or the page title on the lead pages (a rule's delete question, a
member's, the project name) is isolated (U+2068 ... U+2069), so an override in it reverses only
itself; plain names are left as they are. The admin says an invisible-only name is wrong once."""
import json
from html.parser import HTMLParser

import pytest

from labeling.items.services import import_path
from labeling.projects.models import Label, Membership, Rule
from labeling.projects.templatetags.text_direction import isolated

from .test_admin_label_rows import _change_form, _row_prefix
from .test_browse_api import api_as

pytestmark = pytest.mark.django_db

FSI, PDI, RLO, PDF = "\u2068", "\u2069", "\u202e", "\u202c"
INVISIBLE = ("\u200b", "\u200e", RLO, PDF, "\u00ad")


def _raw_invisible(text):
    return [hex(ord(c)) for c in text if c in INVISIBLE]


def test_admin_says_once_that_a_renamed_label_is_only_invisible_characters(admin_client, project_factory):
    project = project_factory("adm-once", labels=("billing", "login"))
    login = project.labels.get(name="login")
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, login)}-name"] = "\u200b\u200b"
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 200
    assert answer.content.decode().count("Name is empty once invisible characters") == 1
    assert sorted(project.labels.values_list("name", flat=True)) == ["billing", "login"]


def test_api_400_writes_both_look_alike_names_out(world):
    alpha, lead = world["alpha"], api_as(world["lead"])
    login = alpha.labels.get(name="login")
    answer = lead.patch(f"/api/projects/alpha/labels/{login.pk}/", {"name": "bil\u200bling"}, format="json")
    assert answer.status_code == 400, answer.content
    [message] = answer.json()["name"]
    assert message.startswith("A label named “billing” already exists in this project"), message
    assert message.endswith("The new name, written out, is “bil\\u200bling”."), message
    assert not _raw_invisible(message)

    # a look-alike stored before the rule, holding a right-to-left override, named written out
    Label.objects.create(project=alpha, name=f"ref{RLO}und{PDF}")
    answer = lead.post("/api/projects/alpha/labels/", {"name": "refund"}, format="json")
    assert answer.status_code == 400, answer.content
    [message] = answer.json()["name"]
    assert message.startswith("A label named “ref\\u202eund\\u202c” already exists in this project"), message
    assert "The new name, written out, is “refund”." in message and not _raw_invisible(message)
    assert not alpha.labels.filter(name="refund").exists()


def test_admin_project_page_writes_the_look_alike_names_out(admin_client, project_factory):
    project = project_factory("adm-look", labels=("billing", "login"))
    login = project.labels.get(name="login")
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, login)}-name"] = f"bil{RLO}ling"
    page = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data).content.decode()
    assert "A label named “billing” already exists in this project" in page
    assert "The new name, written out, is “bil\\u202eling”." in page


def test_import_errors_write_invisible_characters_out(project_factory, tmp_path):
    project = project_factory("intake-look", labels=("billing", "login"), sources=())
    project.allow_new_labels = True
    project.save()
    rows = [{"text": "looks like billing", "label": "bil\u200bling"},  # line 1
            {"text": "only direction controls", "label": f"{RLO}{PDF}"},  # line 2
            {"text": "a new label", "label": "spam"},  # line 3
            {"text": "looks like the new one", "label": f"{RLO}spam{PDF}"}]  # line 4
    path = tmp_path / "look.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = import_path(project, path)
    assert not result.ok
    text = [e.format("look.jsonl") for e in result.errors]
    assert [e.line for e in result.errors] == [1, 2, 4], text
    assert text[0].startswith("look.jsonl, line 1, field 'label': 'bil\\u200bling' looks like the existing label "
                              "“billing”"), text[0]
    assert text[1].startswith("look.jsonl, line 2, field 'label': the label '\\u202e\\u202c' is empty once "
                              "invisible characters"), text[1]
    assert text[2].startswith("look.jsonl, line 4, field 'label': '\\u202espam\\u202c' looks like the new label, "
                              "created by an earlier row of this file, “spam”"), text[2]
    result.batch.refresh_from_db()
    assert not _raw_invisible(json.dumps(result.batch.errors, ensure_ascii=False))


class _Attributes(HTMLParser):
    """Attribute values as a browser reads them (entities decoded), and the page title."""

    def __init__(self):
        super().__init__()
        self.confirms, self.title, self._in_title = [], "", False

    def handle_starttag(self, tag, attrs):
        self._in_title = tag == "title"
        self.confirms += [value for name, value in attrs if name == "data-confirm"]

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


def _read(client, url):
    page = client.get(url)
    assert page.status_code == 200
    parser = _Attributes()
    parser.feed(page.content.decode())
    return parser


def test_rules_page_isolates_patterns_and_names_in_its_questions_and_title(client, world):
    alpha = world["alpha"]
    alpha.name = f"Sup{RLO}port"
    alpha.save()
    fraud, billing = alpha.labels.get(name="fraud"), alpha.labels.get(name="billing")
    fraud.name = f"fr{RLO}aud"
    fraud.save()
    Rule.objects.create(project=alpha, label=fraud, pattern=f'"><b>stolen{RLO} card', kind=Rule.KEYWORD)
    Rule.objects.create(project=alpha, label=billing, pattern="refund", kind=Rule.KEYWORD)
    client.force_login(world["lead"])
    page = _read(client, "/p/alpha/settings/rules/")
    assert sorted(page.confirms) == sorted([
        f"Delete the rule “{FSI}\"><b>stolen{RLO} card{PDI}” → {FSI}fr{RLO}aud{PDI}?",
        "Delete the rule “refund” → billing?",  # nothing to isolate: as before
    ])
    assert page.title == f"Rules · {FSI}Sup{RLO}port{PDI} · Longtail"
    body = client.get("/p/alpha/settings/rules/").content.decode()
    assert f"<h1>{FSI}Sup{RLO}port{PDI} — rules</h1>" in body and '"><b>stolen' not in body  # still escaped


def test_members_page_isolates_a_right_to_left_name_in_its_question(client, world, make_user):
    alpha = world["alpha"]
    Membership.objects.create(user=make_user("\u05d3\u05e0\u05d4"), project=alpha, role=Membership.ANNOTATOR)
    client.force_login(world["lead"])
    confirms = _read(client, "/p/alpha/members/").confirms
    assert f"Remove {FSI}\u05d3\u05e0\u05d4{PDI} from Alpha? Their answers stay." in confirms, confirms
    assert "Remove ann from Alpha? Their answers stay." in confirms


@pytest.mark.parametrize(("text", "shown"), [
    ("billing", "billing"),  # left-to-right only: unchanged
    ("\u0641\u0648\u062a\u0631\u0629", f"{FSI}\u0641\u0648\u062a\u0631\u0629{PDI}"),
    (f"a{PDI}{RLO}b", f"{FSI}a{RLO}b{PDI}"),  # a stray pop would close the wrapper early: dropped
    ("\u2067ab", f"{FSI}\u2067ab{PDI}{PDI}"),  # an isolate the text leaves open is closed first
], ids=ascii)
def test_isolated_keeps_the_text_inside_its_own_isolate(text, shown):
    assert isolated(text) == shown


def test_item_browser_isolates_the_project_name_in_its_title(client, world):
    alpha = world["alpha"]
    alpha.name = f"Sup{RLO}port"
    alpha.save()
    client.force_login(world["lead"])
    assert _read(client, "/p/alpha/items/").title == f"Items · {FSI}Sup{RLO}port{PDI} · Longtail"
