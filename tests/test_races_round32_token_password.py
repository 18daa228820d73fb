"""A password written where no receiver sees it (a raw queryset update, as a script or a restored
row does) ends the user's API tokens all the same: real requests against the token check."""
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

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


def test_a_token_made_on_the_admin_page_works(world, client):
    """DRF's admin saves tokens through its proxy model (TokenProxy): stamped all the same."""
    client.force_login(world["admin"])
    added = client.post("/admin/authtoken/tokenproxy/add/", {"user": world["annotator"].pk})
    assert added.status_code == 302, added.content[:500]
    key = Token.objects.get(user=world["annotator"]).key
    assert with_token(key).get("/api/projects/").status_code == 200
    assert with_token(TokenProxy.objects.create(user=world["lead"]).key).get("/api/projects/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_token_requests_that_both_upgrade_the_hash_both_get_a_working_token(world, settings, postgres_only):
    """A sign-in whose stored hash is of an older hasher writes a new hash (a new salt). Two token
    requests at once each wrote their own, and one got, with 200, a token stamped with the hash
    the other replaced. They now run one after the other for one user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    user = world["annotator"]
    dead = []
    for _ in range(4):
        get_user_model().objects.filter(pk=user.pk).update(password=make_password(PASSWORD, hasher="md5"))
        cache.clear()  # the sign-in throttle's counts
        keys, barrier = [], threading.Barrier(2)

        def ask(keys=keys, barrier=barrier):
            try:
                barrier.wait()
                answer = APIClient().post("/api/auth/token/", {"username": "ann", "password": PASSWORD})
                keys.append((answer.status_code, answer.json().get("token")))
            finally:
                connection.close()

        threads = [threading.Thread(target=ask) for _ in range(2)]
        [thread.start() for thread in threads]
        [thread.join() for thread in threads]
        assert [status for status, _ in keys] == [200, 200]
        dead += [key for _, key in keys if with_token(key).get("/api/projects/").status_code != 200]
    assert dead == []
