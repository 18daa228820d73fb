"""The Django admin refuses what the product's pages and API refuse for projects, labels, answers,
rules and items: a project's slug stays (its folders are named by it); the project page saves only
what its admin changed and names what someone else changed meanwhile; no label, answer or rule
crosses projects (the model's own checks); an item's text and its hash stay together; settings and
quotas that cannot plan a wave are refused with the pages' words. Deleting a label whose answers
were all undone says so, and what to do."""
import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.export import services as export
from labeling.items.models import Item
from labeling.projects.models import Label, Membership, Rule, Source

from .test_annotation_helpers import add_member, api_as
from .test_export import answer, make_item
from .test_settings_pages_stale_edits import FormControls, open_page

pytestmark = pytest.mark.django_db


def _row(page, prefix, pk) -> str:
    """The inline row prefix (labels-2) of the stored row ``pk``."""
    return next(key[:-len("-id")] for key, values in page.items()
                if key.startswith(f"{prefix}-") and key.endswith("-id") and values == [str(pk)])


def _project_page(client, project):
    url = f"/admin/projects/project/{project.pk}/change/"
    return url, open_page(client, url, "project_form")


def test_a_projects_slug_cannot_change_in_the_admin(project_factory, admin_client):
    alpha = project_factory("alpha")
    url, page = _project_page(admin_client, alpha)
    assert "slug" not in page
    assert admin_client.post(url, {**page, "slug": ["gamma"]}).status_code == 302
    alpha.refresh_from_db()
    assert alpha.slug == "alpha"
    assert 'name="slug"' in admin_client.get("/admin/projects/project/add/").content.decode()


def test_the_admin_project_page_does_not_undo_a_leads_changes_made_meanwhile(project_factory, make_user,
                                                                             admin_client):
    alpha = project_factory("alpha")
    lena = add_member(make_user, alpha, "lena", role=Membership.LEAD)
    leo = add_member(make_user, alpha, "leo", role=Membership.LEAD)
    url, page = _project_page(admin_client, alpha)  # the admin opens the page
    billing = Label.objects.get(project=alpha, name="billing")
    assert api_as(lena).patch("/api/projects/alpha/", {"wave_size": 300}, format="json").status_code == 200
    assert api_as(lena).patch(f"/api/projects/alpha/labels/{billing.pk}/", {"name": "invoices"},
                              format="json").status_code == 200
    leo_m = Membership.objects.get(project=alpha, user=leo)
    assert api_as(lena).patch(f"/api/projects/alpha/members/{leo_m.pk}/", {"role": "annotator"},
                              format="json").status_code == 200
    assert admin_client.post(url, {**page, "description": ["only this changed"]}).status_code == 302
    alpha.refresh_from_db()
    billing.refresh_from_db()
    leo_m.refresh_from_db()
    assert (alpha.description, alpha.wave_size, billing.name, leo_m.role) == (
        "only this changed", 300, "invoices", "annotator")


def test_the_admin_project_page_names_what_someone_else_changed_too(project_factory, make_user, admin_client):
    alpha = project_factory("alpha")
    lena = add_member(make_user, alpha, "lena", role=Membership.LEAD)
    url, page = _project_page(admin_client, alpha)
    billing = Label.objects.get(project=alpha, name="billing")
    assert api_as(lena).patch("/api/projects/alpha/", {"wave_size": 300}, format="json").status_code == 200
    assert api_as(lena).patch(f"/api/projects/alpha/labels/{billing.pk}/", {"name": "invoices"},
                              format="json").status_code == 200
    row = _row(page, "labels", billing.pk)
    response = admin_client.post(url, {**page, "wave_size": ["500"], f"{row}-name": ["bills"],
                                       "description": ["not saved"]})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Wave size: changed by someone else since this page loaded; it is now “300”" in body
    assert "someone else changed what you changed since this page loaded (invoices: Name)" in body
    alpha.refresh_from_db()
    billing.refresh_from_db()
    assert (alpha.wave_size, alpha.description, billing.name) == (300, "", "invoices")
    # The refused page carries what is stored now: saved again, the admin's entries replace them, knowingly.
    again = open_page_from(response.content.decode())
    assert admin_client.post(url, again).status_code == 302
    alpha.refresh_from_db()
    billing.refresh_from_db()
    assert (alpha.wave_size, billing.name) == (500, "bills")


def open_page_from(html: str) -> dict:
    parser = FormControls("project_form")
    parser.feed(html)
    return parser.values


def test_no_label_answer_or_rule_crosses_projects(world, admin_client):
    alpha, beta, ann = world["alpha"], world["beta"], world["annotator"]
    given = answer(make_item(alpha, "my card was stolen"), ann, "fraud")
    fraud_label, other = Label.objects.get(project=alpha, name="fraud"), Label.objects.get(project=beta, name="login")

    url = f"/admin/projects/label/{fraud_label.pk}/change/"
    page = open_page(admin_client, url, "label_form")
    assert "project" not in page  # read-only once the label exists
    assert admin_client.post(url, {**page, "project": [str(beta.pk)]}).status_code == 302
    fraud_label.refresh_from_db()
    assert fraud_label.project_id == alpha.pk
    fraud_label.project = beta  # any other path: the model's own check
    with pytest.raises(ValidationError, match="A label stays in the project it was made in"):
        fraud_label.full_clean()

    given.label = other
    with pytest.raises(ValidationError, match="belongs to another project"):
        given.full_clean()
    given.refresh_from_db()
    given.item = make_item(beta, "an item of beta")
    with pytest.raises(ValidationError, match="belongs to another project"):
        given.full_clean()

    response = admin_client.post("/admin/projects/rule/add/", {
        "project": alpha.pk, "label": other.pk, "kind": "keyword", "pattern": "stolen", "enabled": "on"})
    assert response.status_code == 200 and "belongs to another project" in response.content.decode()
    assert not Rule.objects.exists()
    assert len(list(export.stream_export(alpha, "jsonl"))) == 1


def test_an_items_text_and_hash_stay_together_in_the_admin(world, admin_client):
    alpha = world["alpha"]
    a = make_item(alpha, "I want a refund for order 1234")
    b = make_item(alpha, "I want a refund for order 1234", group=a.pk)
    url = f"/admin/items/item/{b.pk}/change/"
    response = admin_client.get(url)
    assert "The text, its hash and its duplicate group are fixed once imported" in response.content.decode()
    page = open_page(admin_client, url, "item_form")
    assert not {"text", "text_hash", "dup_group", "project"} & set(page)
    assert admin_client.post(url, {**page, "text": ["Someone logged in from abroad"],
                                   "metadata": ['{"note": "kept"}']}).status_code == 302
    b.refresh_from_db()
    assert (b.text, b.text_hash, b.dup_group, b.metadata) == (a.text, a.text_hash, a.pk, {"note": "kept"})
    beta_source = world["beta"].sources.first()
    response = admin_client.post(url, {**page, "source": [str(beta_source.pk)]})
    assert response.status_code == 200 and "belongs to another project" in response.content.decode()
    assert admin_client.get("/admin/items/item/add/").status_code == 403


@pytest.mark.parametrize(("mix", "quotas", "said"), [
    ('{"bogus": 0.9}', None, "Unknown strategies: bogus"),
    ('{"rare": 0.2}', None, "Strategy shares plus the random share must add up to 1.0"),
    ('{"rare": 0.9}', ("0.9", "0.9"), "Source quotas must add up to 1.0"),
])
def test_the_admin_refuses_settings_that_cannot_plan_a_wave(project_factory, admin_client, mix, quotas, said):
    alpha = project_factory("alpha")
    before = (alpha.strategy_mix, list(Source.objects.filter(project=alpha).values_list("quota", flat=True)))
    url, page = _project_page(admin_client, alpha)
    page["strategy_mix"] = [mix]
    for i, quota in enumerate(quotas or ()):
        page[f"sources-{i}-quota"] = [quota]
    response = admin_client.post(url, page)
    assert response.status_code == 200 and said in response.content.decode()
    alpha.refresh_from_db()
    assert (alpha.strategy_mix, list(Source.objects.filter(project=alpha).values_list("quota", flat=True))) == before


def test_a_whole_mix_still_saves_in_the_admin_and_on_the_settings_page(world, client, admin_client):
    alpha = world["alpha"]
    url, page = _project_page(admin_client, alpha)
    page.update(strategy_mix=['{"rare": 0.5, "uncertainty": 0.3}'], random_share=["0.2"])
    assert admin_client.post(url, page).status_code == 302
    alpha.refresh_from_db()
    assert (alpha.strategy_mix, alpha.random_share) == ({"rare": 0.5, "uncertainty": 0.3}, 0.2)
    # The settings page changes the random share and its mix fields together (the model checks the
    # stored mix only where the mix itself is validated).
    client.force_login(world["lead"])
    settings_page = open_page(client, "/p/alpha/settings/", "settings-form")
    settings_page.update(random_share=["0.3"], mix_rare=["0.4"])
    assert client.post("/p/alpha/settings/", settings_page).status_code == 302
    alpha.refresh_from_db()
    assert (alpha.strategy_mix, alpha.random_share) == ({"rare": 0.4, "uncertainty": 0.3}, 0.3)


def test_deleting_a_label_whose_answers_were_undone_says_so_and_what_to_do(world):
    alpha = world["alpha"]
    fraud = alpha.labels.get(name="fraud")
    item = Item.objects.create(project=alpha, source=alpha.sources.first(), text="x", text_hash="x")
    Annotation.objects.create(project=alpha, item=item, label=fraud, annotator=world["annotator"], undone=True)
    api = APIClient()
    api.force_authenticate(world["lead"])
    response = api.delete(f"/api/projects/alpha/labels/{fraud.pk}/")
    assert response.status_code == 400
    said = " ".join(response.json()["non_field_errors"])
    assert "is in use by 1 answer (1 undone or changed, kept as the answers' history)" in said
    assert "Rename it" in said
    Annotation.objects.create(project=alpha, item=item, label=fraud, annotator=world["annotator"])
    said = " ".join(api.delete(f"/api/projects/alpha/labels/{fraud.pk}/").json()["non_field_errors"])
    assert "in use by 2 answers (1 live, 1 undone or changed" in said and "Answers keep the label they were given" in said
    assert Label.objects.filter(pk=fraud.pk).exists()
