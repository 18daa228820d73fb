"""A password written where no receiver sees it (a raw queryset update, as a script or a restored
row does) ends the user's API tokens all the same: real requests against the token check."""
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token

from .test_auth_hardening_tokens import obtain, with_token

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Longtail-123"
NEW_PASSWORD = "pw-Longtail-456"


def raw_password_update(user, password):
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(password))


def test_a_password_updated_in_bulk_ends_the_token(world):
    key = obtain("lena", PASSWORD)
    ann_key = obtain("ann", PASSWORD)
    assert with_token(key).get("/api/projects/").status_code == 200
    raw_password_update(world["lead"], NEW_PASSWORD)

    refused = with_token(key).get("/api/projects/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert "password of this token's user changed" in refused.json()["detail"]
    # The new password gets a new token that works; the old one stays refused; others are untouched.
    renewed = obtain("lena", NEW_PASSWORD)
    assert renewed != key and with_token(renewed).get("/api/projects/").status_code == 200
    assert with_token(key).get("/api/projects/").status_code == 401
    assert with_token(ann_key).get("/api/projects/").status_code == 200


def test_a_token_made_elsewhere_works_until_a_bulk_password_update(world):
    """A token made by the admin or drf_create_token (Token.objects.create) is stamped as well."""
    key = Token.objects.create(user=world["annotator"]).key
    assert with_token(key).get("/api/projects/").status_code == 200
    raw_password_update(world["annotator"], NEW_PASSWORD)
    assert with_token(key).get("/api/projects/").status_code == 401


def test_setting_the_same_password_again_in_bulk_ends_the_token_too(world):
    """A new hash is a new password for the token, as for Django's sessions (a fresh salt)."""
    key = obtain("lena", PASSWORD)
    raw_password_update(world["lead"], PASSWORD)
    assert with_token(key).get("/api/projects/").status_code == 401
    assert with_token(obtain("lena", PASSWORD)).get("/api/projects/").status_code == 200
