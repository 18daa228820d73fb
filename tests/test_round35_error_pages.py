"""Production (DEBUG off) error pages: a form sent with a missing or outdated CSRF token, and a
missing page, get the site's own page (what happened, what to do, a link home; the missing page
with the top bar) instead of Django's bare "CSRF verification failed" and "Not Found"; what the URL
carried is escaped. The CSRF page stands alone (no base.html, no static files): it renders whatever
else is wrong with the request."""
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def production(settings):
    settings.DEBUG = False


def test_a_form_with_an_outdated_token_gets_the_site_page(production, make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("lena"))
    assert client.get("/").status_code == 200  # the page that set the CSRF cookie
    # a token another tab's sign-in replaced: the form still carries the old one
    response = client.post(f"/accounts/logout/?next={SCRIPT}", {"csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    body = response.content.decode()
    assert "CSRF verification failed" not in body and "DEBUG=True" not in body
    assert 'id="csrf-failed"' in body and "This form could not be sent" in body
    assert "reload it, and send the form again" in body
    assert 'id="csrf-failed-home" href="/"' in body
    assert SCRIPT not in body


def test_a_sign_in_without_the_cookie_gets_the_site_page(production):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "lena", "password": "x"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This form could not be sent" in body and "accepts cookies" in body
    assert "Sign out" not in body


def test_a_missing_page_gets_the_site_page_without_echoing_the_path(production, make_user):
    client = Client()
    client.force_login(make_user("lena"))
    response = client.get(f"/no-such-page/{SCRIPT}/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'id="not-found"' in body and "There is no such page" in body
    assert 'id="not-found-home" href="/"' in body and "Sign out" in body
    assert SCRIPT not in body and "no-such-page" not in body  # a hidden project reads as a missing one
    assert "Resolver404" not in body  # Django's class name is no reason


def test_a_missing_page_says_the_apps_reason_escaped(production, make_user, project_factory):
    from labeling.projects.models import Membership

    lead = make_user("lena")
    project = project_factory("errs")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client = Client()
    client.force_login(lead)
    response = client.get("/p/errs/export/labels.<img src=x onerror=alert(1)>")  # the format is the URL's
    assert response.status_code == 404
    body = response.content.decode()
    assert 'id="not-found-reason"' in body and "Unknown export format" in body
    assert "<img" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
