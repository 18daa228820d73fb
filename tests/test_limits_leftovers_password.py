"""A password changed on the admin's pages ends the user's API tokens (security audit leftover),
through the real pages with Django's test client: the admin's own "Change password" page, and a
user's password set unusable on the admin's page for that user. (A new password set there for
another user: tests/test_auth_hardening_tokens.py.) A form that is refused changes nothing."""
import pytest
from rest_framework.authtoken.models import Token

from .test_auth_hardening_tokens import NEW_PASSWORD, PASSWORD, no_throttle_counts, obtain, with_token  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_admins_own_password_change_ends_their_token_and_keeps_them_signed_in(world, client):
    key = obtain("root", PASSWORD)
    assert client.login(username="root", password=PASSWORD)
    assert client.get("/admin/password_change/").status_code == 200
    changed = client.post("/admin/password_change/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                      "new_password2": NEW_PASSWORD})
    assert changed.status_code == 302 and changed["Location"] == "/admin/password_change/done/"
    refused = with_token(key).get("/api/projects/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."
    assert client.get("/admin/").status_code == 200  # the page's own session goes on (Django's rule)
    assert with_token(obtain("root", NEW_PASSWORD)).get("/api/projects/").status_code == 200


def test_a_refused_own_password_change_keeps_the_token(world, client):
    key = obtain("root", PASSWORD)
    assert client.login(username="root", password=PASSWORD)
    refused = client.post("/admin/password_change/", {"old_password": "not-it", "new_password1": NEW_PASSWORD,
                                                      "new_password2": NEW_PASSWORD})
    assert refused.status_code == 200 and "Your old password was entered incorrectly" in refused.content.decode()
    assert with_token(key).get("/api/projects/").status_code == 200


def test_a_password_set_unusable_in_the_admin_ends_the_token(world, client):
    key = obtain("lena", PASSWORD)
    ann_key = obtain("ann", PASSWORD)
    assert client.login(username="root", password=PASSWORD)
    page = f"/admin/auth/user/{world['lead'].pk}/password/"
    assert client.get(page).status_code == 200
    changed = client.post(page, {"usable_password": "false", "unset-password": "1"})  # the page's button
    assert changed.status_code == 302 and changed["Location"] == f"/admin/auth/user/{world['lead'].pk}/change/"
    world["lead"].refresh_from_db()
    assert not world["lead"].has_usable_password()
    assert not Token.objects.filter(key=key).exists()
    assert with_token(key).get("/api/projects/").status_code == 401
    assert with_token(ann_key).get("/api/projects/").status_code == 200  # another user's token stays
