"""Creating a project: the same slug created twice at once (r3 finding 6), labels that look like the
Other label it gets (r2 F4), and source names checked as label names are (r2 F6). The race runs on
two real PostgreSQL connections in a set order."""
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.test import APIClient

from labeling.projects import services
from labeling.projects.models import Label, Membership, Project, Source

from .db_threads import in_thread
from .test_round37_fix7_rules import held_open, wait_for_lock_waiter

pytestmark = pytest.mark.django_db(transaction=True)

TAKEN = "A project with the slug “dup” already exists."


@pytest.fixture
def lead(make_user, project_factory):
    user = make_user("lena")
    Membership.objects.create(user=user, project=project_factory("first"), role=Membership.LEAD)
    return user


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_same_slug_created_twice_at_once_answers_the_slug_message(postgres_only, lead):
    create = lambda: services.create_project(lead, slug="dup", name="Dup", labels=["a", "b"])  # noqa: E731
    done, go = threading.Event(), threading.Event()
    one, first = in_thread(held_open(create, done, go))
    assert done.wait(10)
    two, second = in_thread(create)  # its checks miss the uncommitted project; its insert waits on the slug
    assert wait_for_lock_waiter(two)
    go.set()
    one.join(20)
    two.join(20)
    assert "error" not in first, repr(first)
    error = second.get("error")
    assert isinstance(error, ValidationError), repr(second)  # was an IntegrityError: a 500
    assert error.message_dict == {"slug": [TAKEN]}
    assert Project.objects.filter(slug="dup").count() == 1
    assert Label.objects.filter(project__slug="dup").count() == 2


def test_taken_slug_has_one_wording_on_the_api_and_the_page(lead, client):
    services.create_project(lead, slug="dup", name="Dup")
    r = api_as(lead).post("/api/projects/", {"slug": "dup", "name": "again"}, format="json")
    assert r.status_code == 400 and r.json() == {"slug": [TAKEN]}, r.content
    client.force_login(lead)
    page = client.post("/projects/new/", {"slug": "dup", "name": "again", "other_label": "on"})
    assert page.status_code == 200 and "A project with the slug “dup” already exists." in page.content.decode()


def test_create_form_disables_its_button_once_pressed(lead, client):
    client.force_login(lead)
    page = client.get("/projects/new/").content.decode()
    assert 'data-busy-text="Creating the project…"' in page and "js/lead.js" in page


@pytest.mark.parametrize("line", ["a > Other", "a > other", "a > ＯＴＨＥＲ"])
def test_a_label_line_like_the_other_label_is_refused(lead, client, line):
    r = api_as(lead).post("/api/projects/", {"slug": "o1", "name": "o1", "labels": ["b", line],
                                              "sources": ["web"], "other_label": True}, format="json")
    assert r.status_code == 400, r.content  # "a > Other" was a 500 (label_unique_name)
    [message] = r.json()["labels"]
    assert message.startswith("Line 2: ") and "Other label" in message
    client.force_login(lead)
    page = client.post("/projects/new/", {"slug": "o1", "name": "o1", "labels": f"b\n{line}", "other_label": "on"})
    assert page.status_code == 200 and "Other label" in page.content.decode()
    assert not Project.objects.filter(slug="o1").exists()


def test_other_label_lines_that_stay_allowed(lead):
    fine = services.create_project(lead, slug="o2", name="o2", labels=["a > Other"], other_label=False)
    assert list(Label.objects.filter(project=fine).values_list("name", flat=True).order_by("pk")) == ["a", "Other"]
    own = services.create_project(lead, slug="o3", name="o3", labels=["Other", "a"], other_label=True)
    assert Label.objects.get(project=own, name="Other").is_other and Label.objects.filter(project=own).count() == 2


def test_new_project_sources_one_per_line_and_checked_as_label_names(lead):
    project = services.create_project(lead, slug="s1", name="s1", sources=["web\nmail", "chat"])
    assert sorted(Source.objects.filter(project=project).values_list("name", flat=True)) == ["chat", "mail", "web"]
    for sources, words in ((["web", "Web"], "look alike"), (["\u200b"], "invisible"), (["a\tb"], "control")):
        with pytest.raises(ValidationError) as refused:
            services.create_project(lead, slug="s2", name="s2", sources=sources)
        assert list(refused.value.message_dict) == ["sources"] and words in refused.value.message_dict["sources"][0]
    assert not Project.objects.filter(slug="s2").exists()


def test_sources_api_refuses_look_alike_invisible_and_control_names(lead, project_factory):
    project = project_factory("s3", sources=("web",))
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    web = Source.objects.get(project=project)
    url = f"/api/projects/{project.slug}/sources/"
    for name in ("Web", "\u200b", "a\tb"):
        r = api_as(lead).put(url, [{"id": web.pk, "name": "web", "quota": 0.5}, {"name": name, "quota": 0.5}],
                             format="json")
        assert r.status_code == 400 and "name" in r.json(), (name, r.content)
    assert list(Source.objects.filter(project=project).values_list("name", flat=True)) == ["web"]
    # a pair stored before the rule stays editable (names kept as stored are not judged again)
    with transaction.atomic():
        Source.objects.create(project=project, name="Web", quota=0.0)
    rows = [{"id": s.pk, "name": s.name, "quota": 0.5} for s in Source.objects.filter(project=project)]
    assert api_as(lead).put(url, rows, format="json").status_code == 200
