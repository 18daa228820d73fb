"""API tokens end when their user's password changes, and DELETE /api/auth/token/ revokes the caller's
token. Real requests, and a real manage.py process for a password changed from the command line."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.projects.token_api import TokenIpThrottle, TokenUserThrottle

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Longtail-123"
NEW_PASSWORD = "pw-Longtail-456"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_throttle_counts():
    def forget():
        keys = [TokenUserThrottle.cache_format % {"scope": "token_user", "ident": hashlib.sha256(name.encode()).hexdigest()}
                for name in ("lena", "ann", "root")]
        cache.delete_many([*keys, TokenIpThrottle.cache_format % {"scope": "token_ip", "ident": "127.0.0.1"}])

    forget()
    yield
    forget()


def obtain(username, password):
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def with_token(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_new_password_ends_the_old_token(world):
    key = obtain("lena", PASSWORD)
    assert with_token(key).get("/api/projects/").status_code == 200
    lena = world["lead"]
    lena.set_password(NEW_PASSWORD)
    lena.save()
    assert not Token.objects.filter(key=key).exists()
    refused = with_token(key).get("/api/projects/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert refused.json()["detail"] == "Invalid token."
    renewed = obtain("lena", NEW_PASSWORD)
    assert renewed != key and with_token(renewed).get("/api/projects/").status_code == 200
    # Someone else's token is not touched.
    ann_key = obtain("ann", PASSWORD)
    lena.set_password(PASSWORD)
    lena.save()
    assert with_token(ann_key).get("/api/projects/").status_code == 200


def test_a_password_changed_in_the_admin_ends_the_token(world, client):
    key = obtain("lena", PASSWORD)
    client.force_login(world["admin"])
    changed = client.post(f"/admin/auth/user/{world['lead'].pk}/password/",
                          {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert with_token(key).get("/api/projects/").status_code == 401


def test_saves_that_keep_the_password_keep_the_token(world):
    key = obtain("lena", PASSWORD)
    lena = world["lead"]
    lena.first_name = "Lena"
    lena.save()  # every field, the password hash unchanged
    browser = APIClient()
    assert browser.login(username="lena", password=PASSWORD)  # saves last_login
    assert obtain("lena", PASSWORD) == key  # the same token, still valid
    assert with_token(key).get("/api/projects/").status_code == 200


def test_delete_revokes_the_callers_token(world):
    key = obtain("lena", PASSWORD)
    ann_key = obtain("ann", PASSWORD)
    revoked = with_token(key).delete("/api/auth/token/")
    assert revoked.status_code == 204 and not revoked.content
    assert with_token(key).get("/api/projects/").status_code == 401
    assert with_token(key).delete("/api/auth/token/").status_code == 401
    assert with_token(ann_key).get("/api/projects/").status_code == 200
    fresh = obtain("lena", PASSWORD)
    assert fresh != key and with_token(fresh).get("/api/projects/").status_code == 200
    anonymous = APIClient().delete("/api/auth/token/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"


def test_delete_with_a_session_needs_its_csrf_token(world):
    key = obtain("lena", PASSWORD)
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(world["lead"])
    assert browser.delete("/api/auth/token/").status_code == 403  # no CSRF token
    assert with_token(key).get("/api/projects/").status_code == 200
    browser.get("/accounts/login/")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    assert browser.delete("/api/auth/token/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert with_token(key).get("/api/projects/").status_code == 401


def test_the_schema_documents_delete(world, client):
    client.force_login(world["lead"])
    paths = client.get("/api/schema/?format=json").json()["paths"]
    delete, post = paths["/api/auth/token/"]["delete"], paths["/api/auth/token/"]["post"]
    assert {"204", "401"} <= set(delete["responses"]) and "429" not in delete["responses"]
    assert delete.get("security") != [{}] and "revoke" in delete["summary"].lower()
    assert {"200", "400", "429"} <= set(post["responses"]) and "401" not in post["responses"]


@pytest.mark.django_db(transaction=True)
def test_a_password_changed_from_the_command_line_ends_the_token(world, postgres_only):
    key = obtain("lena", PASSWORD)
    db = connection.settings_dict  # the other process works in this test's database
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    script = ("from django.contrib.auth import get_user_model; "
              f"u = get_user_model().objects.get(username='lena'); u.set_password({NEW_PASSWORD!r}); u.save()")
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=REPO, env=env, check=True, timeout=120)
    assert with_token(key).get("/api/projects/").status_code == 401

