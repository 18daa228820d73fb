"""Query counts of the waves page, its polled status JSON and the tasks API do not grow with the
task runs listed (the project was read again per run), a wave's model version number is read
without the version's row (its metrics JSON is ~340 KB at 286 labels), and the home page reads
the user's roles once, not once per project."""
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects import selectors
from labeling.projects.models import Membership
from labeling.waves.models import Wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client(make_user):
    def _client(username, projects, role=Membership.LEAD):
        user = make_user(username)
        for project in projects:
            Membership.objects.create(user=user, project=project, role=role)
        client = Client()
        client.force_login(user)
        return client
    return _client


def add_runs(project, n):
    for i in range(n):
        TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.DONE, message=f"run {i}")


def add_waves(project, numbers):
    for number in numbers:
        # Each version's metrics JSON is bulky, as at hundreds of labels.
        version = ModelVersion.objects.create(project=project, number=number, state=ModelVersion.RETIRED,
                                              metrics={"bulk": "x" * 50_000})
        Wave.objects.create(project=project, number=number, state=Wave.CLOSED, model_version=version, size=10)


def count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(queries), [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("url", ["/p/{slug}/waves/status.json", "/api/projects/{slug}/tasks/", "/p/{slug}/waves/"])
def test_task_runs_listed_cost_no_query_each(project_factory, lead_client, url, django_assert_max_num_queries):
    project = project_factory("qruns")
    client = lead_client("lea", [project])
    add_runs(project, 1)
    one, _ = count(client, url.format(slug=project.slug))
    add_runs(project, 9)
    with django_assert_max_num_queries(one):
        response = client.get(url.format(slug=project.slug))
    assert response.status_code == 200
    assert b"run 8" in response.content


def test_waves_list_reads_version_numbers_not_version_rows(project_factory, lead_client, django_assert_max_num_queries):
    project = project_factory("qwaves")
    client = lead_client("lea", [project])
    add_waves(project, [1])
    one, _ = count(client, f"/p/{project.slug}/waves/")
    add_waves(project, range(2, 7))
    n, sql = count(client, f"/p/{project.slug}/waves/")
    # No query reads a listed wave's whole version row (its metrics) to print the version's number.
    assert not [q for q in sql if '"learner_modelversion"."metrics"' in q and '"learner_modelversion"."id" =' in q]
    assert n <= one + 5
    # With the list read by selectors.recent_waves: one query for the waves and their version numbers.
    with django_assert_max_num_queries(1):
        rows = [selectors.wave_dict(w, with_progress=False) for w in selectors.recent_waves(project)]
    assert [r["model_version"] for r in rows] == [6, 5, 4, 3, 2, 1]


def test_home_page_reads_roles_once(project_factory, make_user, django_assert_max_num_queries):
    user = make_user("lea")
    client = Client()
    client.force_login(user)
    Membership.objects.create(user=user, project=project_factory("home0"), role=Membership.LEAD)
    few, _ = count(client, "/")
    for i in range(6):
        Membership.objects.create(user=user, project=project_factory(f"more{i}"), role=Membership.ANNOTATOR)
    with django_assert_max_num_queries(few):
        response = client.get("/")
    assert response.status_code == 200 and b"More5" in response.content


@pytest.mark.django_db
def test_the_project_list_reads_the_roles_once(make_user, project_factory, django_assert_max_num_queries):
    """GET /api/projects/ read the user's role once per project."""
    user = make_user("listrole37")
    for i in range(8):
        project = project_factory(f"listrole37-{i}")
        Membership.objects.create(project=project, user=user, role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(user)
    with django_assert_max_num_queries(6):
        body = api.get("/api/projects/").json()
    assert len(body["results"]) == 8 and {row["role"] for row in body["results"]} == {"lead"}
