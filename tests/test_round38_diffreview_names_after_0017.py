"""What a project sees after projects migration 0017 (a7a4b09) left a label decomposed because its
composed form is another label's name (the migration's own case: "rename one of them").

The label pair "O" + U+0308 "deme" (stored as sent by an earlier release) and "Ödeme" is exactly such
a pair. Label names stored together before a rule stay editable (labeling/projects/label_names.py:
"Only a new or renamed name is judged"), and the migration tells the lead to rename one of them. But
every path now composes the name it is handed (services._save_rows, the admin's ComposedNameField),
so a row that posts the decomposed name back unchanged counts as renamed to the other label's name:

- the Django admin's project page: its label inline re-posts every row, ComposedNameField makes the
  untouched decomposed row "changed", and so the project cannot be saved at all (not its description,
  not the renaming of the *other* label that the migration asks for) while the pair exists;
- the labels page: editing only the decomposed label's description is refused as a look-alike of
  the other label, though its name was not touched."""
import pytest

from labeling.projects.models import Label, Membership

from .test_admin_label_rows import _change_form, _row_prefix
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db

DECOMPOSED, COMPOSED = "O\u0308deme", "\u00d6deme"


@pytest.fixture
def pair(project_factory):
    """The state migration 0017 leaves: the decomposed label kept as stored beside its composed twin."""
    project = project_factory("pair", labels=("billing",))
    Label.objects.create(project=project, name=DECOMPOSED, hotkey="d", order=5)
    Label.objects.create(project=project, name=COMPOSED, hotkey="c", order=6)
    return project


def test_the_admin_saves_the_project_while_the_pair_exists(admin_client, pair):
    data = _change_form(admin_client, pair)
    data["description"] = "changed in the admin"
    answer = admin_client.post(f"/admin/projects/project/{pair.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    pair.refresh_from_db()
    assert pair.description == "changed in the admin"


def test_the_admin_renames_the_composed_label_as_the_migration_asks(admin_client, pair):
    data = _change_form(admin_client, pair)
    data[f"{_row_prefix(data, Label.objects.get(project=pair, name=COMPOSED))}-name"] = "Ödeme (card)"
    answer = admin_client.post(f"/admin/projects/project/{pair.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert Label.objects.filter(project=pair, name="Ödeme (card)").exists()


def test_the_labels_page_edits_the_decomposed_labels_description(client, make_user, pair):
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=pair, role=Membership.LEAD)
    client.force_login(lead)
    response = client.post("/p/pair/settings/labels/",
                           labels_page_post(pair, {DECOMPOSED: {"description": "payments"}}), follow=True)
    body = response.content.decode()
    assert "Labels saved" in body, body[body.find("errorlist"):][:1500]
    assert Label.objects.get(project=pair, name=DECOMPOSED).description == "payments"
