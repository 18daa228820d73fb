"""Admin follow-ups. Deleting a user who is a project's only lead (their delete page, "delete
selected", a shell) is refused, nothing deleted: their membership would go with them (CASCADE),
past the members paths' check, and leave the project without a lead. A label in use is refused
for deletion with the product's message (how many answers are live and how many undone, and what
to do), not Django's "protected related objects: Annotation object (1)". An unrouted /api/ URL
answers JSON, as the API's own 404s do; other unrouted URLs keep the site's page."""
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.annotations import leasing
from labeling.annotations.models import Annotation
from labeling.projects.models import Label, Membership

from .test_admin_label_rows import _change_form, _row_prefix
from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def alpha(project_factory, make_user):
    project = project_factory("alpha")
    return {"project": project, "lena": add_member(make_user, project, "lena", role=Membership.LEAD),
            "ann": add_member(make_user, project, "ann")}


def _keeps_lena(alpha, body):
    assert User.objects.filter(username="lena").exists()
    assert alpha["project"].memberships.filter(role=Membership.LEAD, user=alpha["lena"]).exists()
    assert 'id="keeps-a-lead"' in body and "every project keeps at least one lead" in body
    assert "Project “Alpha” (alpha): lena is its only lead. Make another member lead first" in body, body
    assert "protected related objects" not in body and "Yes, I’m sure" not in body


def test_a_projects_only_lead_is_not_deleted_from_their_page(alpha, admin_client):
    lena = alpha["lena"]
    _keeps_lena(alpha, admin_client.get(f"/admin/auth/user/{lena.pk}/delete/").content.decode())
    response = admin_client.post(f"/admin/auth/user/{lena.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200  # the confirmation page again, saying why
    _keeps_lena(alpha, response.content.decode())


def test_delete_selected_refuses_a_projects_only_leads_together(alpha, admin_client, make_user):
    bob = add_member(make_user, alpha["project"], "bob", role=Membership.LEAD)
    selected = {"action": "delete_selected", "_selected_action": [alpha["lena"].pk, bob.pk, alpha["ann"].pk]}
    response = admin_client.post("/admin/auth/user/", {**selected, "post": "yes"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="keeps-a-lead"' in body
    assert "lena, bob are its only leads" in body or "bob, lena are its only leads" in body, body
    assert "then delete them" in body
    alpha["project"].name = "<b>Alpha</b>"
    alpha["project"].save()
    body = admin_client.post("/admin/auth/user/", selected).content.decode()
    assert "Project “&lt;b&gt;Alpha&lt;/b&gt;” (alpha)" in body and "<b>Alpha" not in body
    assert User.objects.filter(username__in=["lena", "bob", "ann"]).count() == 3


def test_a_lead_with_another_lead_beside_them_is_deleted(alpha, admin_client, make_user):
    add_member(make_user, alpha["project"], "bob", role=Membership.LEAD)
    lena = alpha["lena"]
    page = admin_client.get(f"/admin/auth/user/{lena.pk}/delete/").content.decode()
    assert "Yes, I’m sure" in page and "keeps-a-lead" not in page
    assert admin_client.post(f"/admin/auth/user/{lena.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not User.objects.filter(username="lena").exists()
    assert list(alpha["project"].memberships.filter(role=Membership.LEAD).values_list("user__username", flat=True)) \
        == ["bob"]
    # the users' page is still Django's (the add form, the password change link)
    assert admin_client.get("/admin/auth/user/add/").status_code == 200


def test_a_shell_deletion_of_an_only_lead_is_refused(alpha, make_user):
    # Each refusal in its own atomic block, as a shell's autocommit gives it: the deletion's own
    # block takes no savepoint, so a refusal spoils the transaction around it.
    with pytest.raises(ValidationError) as refused, transaction.atomic():
        User.objects.get(username="lena").delete()
    assert "lena is its only lead" in " ".join(refused.value.messages)
    bob = add_member(make_user, alpha["project"], "bob", role=Membership.LEAD)
    with pytest.raises(ValidationError) as refused, transaction.atomic():  # the two leads deleted together
        User.objects.filter(pk__in=[alpha["lena"].pk, bob.pk]).delete()
    assert "are its only leads" in " ".join(refused.value.messages)
    assert alpha["project"].memberships.filter(role=Membership.LEAD).count() == 2
    User.objects.filter(username="lena").delete()  # bob stays lead: allowed
    assert list(alpha["project"].memberships.filter(role=Membership.LEAD).values_list("user__username", flat=True)) \
        == ["bob"]


@pytest.fixture
def undone_fraud(project_factory, make_user):
    project = project_factory("alpha")
    project.batch_size = 2
    project.save()
    make_open_wave(project, 2)
    ann = add_member(make_user, project, "ann")
    fraud = Label.objects.get(project=project, name="fraud")
    answer(project, ann, leasing.lease_batch(project, ann).assignments[0], fraud)
    Annotation.objects.filter(label=fraud).update(undone=True)
    return project, fraud


def test_the_label_delete_page_gives_the_products_reason(undone_fraud, admin_client):
    _, fraud = undone_fraud
    for response in (admin_client.get(f"/admin/projects/label/{fraud.pk}/delete/"),
                     admin_client.post(f"/admin/projects/label/{fraud.pk}/delete/", {"post": "yes"})):
        body = response.content.decode()
        assert response.status_code == 200
        assert "is in use by 1 answer (1 undone or changed, kept as the answers&#x27; history)" in body, body
        assert "Rename it" in body and "Annotation object" not in body
        assert 'id="label-in-use"' in body and "protected related objects" not in body
    assert Label.objects.filter(pk=fraud.pk).exists()


def test_delete_selected_on_labels_gives_the_products_reason(undone_fraud, admin_client):
    _, fraud = undone_fraud
    response = admin_client.post("/admin/projects/label/", {"action": "delete_selected",
                                                             "_selected_action": [fraud.pk], "post": "yes"})
    body = response.content.decode()
    assert "is in use by 1 answer" in body and "Annotation object" not in body, body
    assert 'id="label-in-use"' in body and "protected related objects" not in body
    assert Label.objects.filter(pk=fraud.pk).exists()


def test_the_project_pages_label_row_ticked_for_deletion_gives_the_products_reason(undone_fraud, admin_client):
    project, fraud = undone_fraud
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, fraud)}-DELETE"] = "on"
    response = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    body = response.content.decode()
    assert response.status_code == 200
    assert "is in use by 1 answer (1 undone or changed" in body, body
    assert "Annotation object" not in body and "protected related objects" not in body
    assert Label.objects.filter(pk=fraud.pk).exists()


@pytest.fixture
def production(settings):
    settings.DEBUG = False


@pytest.mark.parametrize("path", ["/api/no-such/", "/api/projects/alpha/labels/abc/", "/api/projects/alpha/nope"])
def test_an_unrouted_api_url_answers_json(production, alpha, path):
    response = api_as(alpha["lena"]).get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json"), response.content[:80]
    assert response.json() == {"detail": "Not found."}


def test_the_apis_own_404_is_unchanged_and_pages_keep_the_site_page(production, alpha, client):
    response = api_as(alpha["lena"]).get("/api/projects/no-such-project/labels/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    client.force_login(alpha["lena"])
    for path in ("/no-such-page/", "/apis/", "/p/alpha/no-such/"):
        page = client.get(path)
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html"), path
        assert 'id="not-found"' in page.content.decode()
