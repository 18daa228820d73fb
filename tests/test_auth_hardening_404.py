"""A project or task that does not exist and one the user may not see get the same 404 (status and
body), so that outsiders cannot learn which slugs and task ids are taken."""
import re

import pytest

from labeling.modeling.models import TaskRun

from .test_annotation_helpers import api_as

pytestmark = pytest.mark.django_db


def same_answer(first, second):
    """Same status and body, the per-response masked CSRF token of the page's sign-out form aside
    (a random value, no information)."""
    def body(response):
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b'name="csrfmiddlewaretoken"', response.content)
    return (first.status_code, body(first)) == (second.status_code, body(second))


@pytest.mark.parametrize("path", ["/api/projects/{slug}/", "/api/projects/{slug}/dashboard/",
                                  "/api/projects/{slug}/tasks/", "/api/projects/{slug}/labels/"])
def test_a_project_that_is_not_yours_reads_as_missing(world, path):
    outsider = api_as(world["outsider"])
    hidden = outsider.get(path.format(slug="beta"))
    missing = outsider.get(path.format(slug="no-such-slug"))
    assert hidden.status_code == 404 and same_answer(hidden, missing)
    assert missing.json() == {"detail": "No such project."}
    # A member still sees the project, and one without the role is told so (403), not hidden.
    assert api_as(world["annotator"]).get(path.format(slug="alpha")).status_code in (200, 403)


def test_a_task_of_another_project_reads_as_missing(world):
    run = TaskRun.objects.create(project=world["beta"], kind="import", message="Importing.")
    outsider = api_as(world["outsider"])
    hidden = outsider.get(f"/api/tasks/{run.pk}/")
    missing = outsider.get(f"/api/tasks/{run.pk + 1000}/")
    assert hidden.status_code == 404 and same_answer(hidden, missing)
    assert missing.json() == {"detail": "No such task."}
    assert api_as(world["admin"]).get(f"/api/tasks/{run.pk}/").json()["message"] == "Importing."


def test_a_project_page_that_is_not_yours_reads_as_missing(world, client, settings):
    settings.DEBUG = False
    client.force_login(world["outsider"])
    hidden = client.get("/p/beta/")
    missing = client.get("/p/no-such-slug/")
    assert hidden.status_code == 404 and same_answer(hidden, missing)
