"""A project cannot take the name of a folder every project shares under LONGTAIL_ARTIFACT_DIR
(the exported encoders, simulate's embedding cache): deleting it removed LONGTAIL_ARTIFACT_DIR/<slug>,
that is the shared folder. One that took such a slug before keeps the shared folder when deleted."""
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from labeling.projects import services
from labeling.projects.deletion import delete_project, project_folders
from labeling.projects.models import Membership, Project
from labeling.projects.reserved import SHARED_ARTIFACT_FOLDERS
from learner.encoders.onnx_export import cache_dir_for

pytestmark = pytest.mark.django_db


def test_the_reserved_names_are_the_folders_the_code_shares(settings, tmp_path):
    settings.LONGTAIL_ARTIFACT_DIR = str(tmp_path)
    shared = cache_dir_for("0" * 64, settings.LONGTAIL_ARTIFACT_DIR).relative_to(tmp_path).parts[0]
    assert shared in SHARED_ARTIFACT_FOLDERS


@pytest.mark.parametrize("slug", SHARED_ARTIFACT_FOLDERS)
def test_a_reserved_slug_is_refused_on_the_page_and_the_api(client, world, slug):
    client.force_login(world["lead"])
    page = client.post("/projects/new/", {"name": "Shared", "slug": slug, "labels": "billing", "sources": "web"})
    assert page.status_code == 200 and f"The slug “{slug}” is reserved" in page.content.decode()
    api = APIClient()
    api.force_authenticate(world["lead"])
    answer = api.post("/api/projects/", {"slug": slug, "name": "Shared", "labels": ["billing"]}, format="json")
    assert answer.status_code == 400 and "is reserved" in str(answer.json()), answer.content
    assert not Project.objects.filter(slug=slug).exists()


def test_deleting_a_project_that_took_a_shared_name_before_keeps_the_shared_folder(settings, tmp_path, project_factory,
                                                                                   django_capture_on_commit_callbacks):
    settings.LONGTAIL_ARTIFACT_DIR = str(tmp_path)
    encoder = Path(cache_dir_for("0" * 64, tmp_path)) / "model.onnx"
    encoder.parent.mkdir(parents=True)
    encoder.write_bytes(b"every project's encoder")
    project = project_factory("encoders")  # stored before the slug was reserved
    assert tmp_path / "encoders" not in project_folders(project)
    with django_capture_on_commit_callbacks(execute=True):  # the folders go once the deletion commits
        delete_project(project)
    assert encoder.read_bytes() == b"every project's encoder"


def test_a_project_that_took_a_reserved_slug_before_still_saves_its_settings(client, world, project_factory):
    project = project_factory("encoders")  # stored before the slug was reserved
    services.update_settings(project, {"wave_size": 50})
    assert Project.objects.get(pk=project.pk).wave_size == 50
    Membership.objects.create(user=world["lead"], project=project, role=Membership.LEAD)
    client.force_login(world["lead"])
    page = client.get("/p/encoders/settings/")
    assert page.status_code == 200


def test_the_admin_refuses_a_reserved_slug_for_a_new_project_only(admin_client, project_factory):
    answer = admin_client.post("/admin/projects/project/add/", {"slug": "emb-cache", "name": "Shared"})
    assert answer.status_code == 200 and "is reserved" in answer.content.decode()
    assert not Project.objects.filter(slug="emb-cache").exists()
