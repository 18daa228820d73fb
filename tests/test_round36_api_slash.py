"""A write sent to an API path without its trailing slash: a real HTTP client (requests, as an API
client script uses it) against the app served on loopback. A 301 made requests re-send the PATCH
as a GET (200, nothing saved) and the POST as a GET (405); a 308 keeps the method and the body."""
import pytest
import requests
from rest_framework.authtoken.models import Token

from labeling.projects.models import Label, Membership, Project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(live_server, project_factory, make_user):
    project = project_factory("alpha")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=lead).key}"
    return project, session, f"{live_server.url}/api/projects/alpha"


def test_patch_without_slash_saves(served):
    project, http, base = served
    before = Project.objects.get(pk=project.pk).wave_size
    reply = http.patch(base, json={"wave_size": before + 7}, timeout=30)
    assert [r.status_code for r in reply.history] == [308]
    assert reply.history[0].headers["Location"].endswith("/api/projects/alpha/")
    assert reply.status_code == 200, reply.text
    assert reply.json()["wave_size"] == before + 7
    assert Project.objects.get(pk=project.pk).wave_size == before + 7


def test_post_without_slash_creates(served):
    project, http, base = served
    reply = http.post(f"{base}/labels", json={"name": "spam", "hotkey": "s"}, timeout=30)
    assert reply.status_code == 201, reply.text
    assert Label.objects.filter(project=project, name="spam").exists()


def test_refused_write_without_slash_is_refused_not_read(served):
    # The write's own checks answer, not a GET of the resource.
    project, http, base = served
    reply = http.patch(base, json={"wave_size": 0}, timeout=30)
    assert reply.status_code == 400 and "wave_size" in reply.json()
    assert Project.objects.get(pk=project.pk).wave_size != 0


def test_redirect_itself_keeps_query_and_says_why(served):
    _, http, base = served
    reply = http.post(f"{base}/batches?x=1", json={}, allow_redirects=False, timeout=30)
    assert reply.status_code == 308
    assert reply.headers["Location"].endswith("/api/projects/alpha/batches/?x=1")
    assert "slash" in reply.json()["detail"]


def test_reads_and_unknown_paths_unchanged(served):
    _, http, base = served
    read = http.get(base, allow_redirects=False, timeout=30)
    assert read.status_code == 301  # a GET loses nothing on a 301
    unknown = http.post(f"{base}/no-such-thing", json={}, allow_redirects=False, timeout=30)
    assert unknown.status_code == 404
