"""The Django admin deletes a project (its page and the "delete selected" action) through
labeling.projects.deletion: the confirmation page shows counts instead of refusing on the PROTECTs,
running work stops it, and only superusers may delete."""
import uuid

import pytest
from django.contrib.auth.models import Permission

from tests.test_project_deletion_helpers import import_with_rejects


@pytest.fixture
def project(project_factory, make_user, settings, tmp_path):
    """A project with a fine label under a coarse one (the PROTECT that refused even an empty
    project), imported items with a rejects file, and an answer on the fine label."""
    from labeling.annotations.models import Annotation
    from labeling.items.models import Item
    from labeling.projects.models import Label

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    project = project_factory("desk")
    fine = Label.objects.create(project=project, name="refund", parent=Label.objects.get(project=project, name="billing"))
    import_with_rejects(project, make_user("lead"))
    Annotation.objects.create(project=project, item=Item.objects.filter(project=project).first(), label=fine,
                              client_id=uuid.uuid4())
    return project


def page_of(project) -> str:
    return f"/admin/projects/project/{project.pk}/delete/"


def exists(project) -> bool:
    from labeling.projects.models import Project

    return Project.objects.filter(pk=project.pk).exists()


def test_delete_page_shows_counts_and_deletes(project, admin_client, tmp_path, django_capture_on_commit_callbacks):
    project.name = "<i>Desk</i>"
    project.save()
    page = admin_client.get(page_of(project))
    text = page.content.decode()
    assert page.status_code == 200 and "protected" not in text, text
    assert "Project “&lt;i&gt;Desk&lt;/i&gt;” (desk)" in text and "<i>Desk" not in text
    assert "2 items" in text and "1 fine labels" in text and "1 answers" in text and "Yes, I’m sure" in text
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(page_of(project), {"post": "yes"})
    assert answer.status_code == 302 and answer["Location"] == "/admin/projects/project/"
    assert not exists(project) and not (tmp_path / "media" / "imports" / "desk").exists()


def test_delete_selected_action_deletes_each(project, project_factory, admin_client,
                                             django_capture_on_commit_callbacks):
    from labeling.projects.models import Project

    empty = project_factory("empty")
    data = {"action": "delete_selected", "_selected_action": [project.pk, empty.pk]}
    confirm = admin_client.post("/admin/projects/project/", data)
    assert confirm.status_code == 200 and "protected" not in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post("/admin/projects/project/", {**data, "post": "yes"})
    assert done.status_code == 302 and not Project.objects.filter(pk__in=[project.pk, empty.pk]).exists()


def test_running_work_stops_the_deletion(project, admin_client):
    from labeling.loop.triggers import request_retrain

    run = request_retrain(project, reason="manual")  # never sent: pending
    page = admin_client.get(page_of(project)).content.decode()
    assert "cannot be deleted while its work is in progress" in page
    assert f"task run {run.pk} (retrain, " in page and "manage.py delete_project desk --force" in page
    assert "Yes, I’m sure" not in page
    admin_client.post(page_of(project), {"post": "yes"})
    assert exists(project)


def test_staff_without_superuser_cannot_delete(project, make_user, client):
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=[
        "projects", "items", "annotations", "waves", "learner"]))
    client.force_login(staff)
    assert client.get(page_of(project)).status_code == 403
    assert client.post(page_of(project), {"post": "yes"}).status_code == 403
    assert exists(project)


def test_the_api_still_has_no_delete(project, admin_client):
    # Deleting stays an operator's act (this page, the command): DELETE on the API answers 405.
    assert admin_client.delete(f"/api/projects/{project.slug}/").status_code == 405
    assert exists(project)
