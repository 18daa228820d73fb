"""Roles at the edges every page shares: anonymous users see only the login page, annotators see
only their projects, admins see all."""
import pytest
from django.urls import reverse

from labeling.projects.permissions import can_manage, can_view, role_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/p/alpha/", "/api/docs/"])
def test_anonymous_users_are_sent_to_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_is_open(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_anonymous_api_calls_are_refused(client, world):
    response = client.get("/api/schema/")
    assert response.status_code in (401, 403)


def test_role_resolution(world):
    alpha, beta = world["alpha"], world["beta"]
    assert role_in(world["admin"], beta) == "admin"
    assert role_in(world["lead"], alpha) == "lead"
    assert role_in(world["annotator"], alpha) == "annotator"
    assert role_in(world["annotator"], beta) is None
    assert can_manage(world["lead"], alpha) and not can_manage(world["lead"], beta)
    assert can_view(world["annotator"], alpha) and not can_manage(world["annotator"], alpha)
    assert not can_view(world["outsider"], alpha)


def test_home_lists_only_the_users_projects(client, world):
    client.force_login(world["annotator"])
    body = client.get("/").content.decode()
    assert 'data-project="alpha"' in body and 'data-project="beta"' not in body
    assert 'href="/p/alpha/annotate/"' in body  # "Start labeling" leads straight to the batch

    client.force_login(world["outsider"])
    body = client.get("/").content.decode()
    assert "data-project=" not in body and "not a member of any project" in body

    client.force_login(world["admin"])
    body = client.get("/").content.decode()
    assert 'data-project="alpha"' in body and 'data-project="beta"' in body


def test_home_escapes_project_text(client, world):
    alpha = world["alpha"]
    alpha.name = "<script>alert(1)</script>"
    alpha.save()
    client.force_login(world["annotator"])
    body = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_login_with_real_credentials_lands_on_home(client, world):
    response = client.post(reverse("login"), {"username": "ann", "password": "pw-Longtail-123"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert 'data-project="alpha"' in response.content.decode()
