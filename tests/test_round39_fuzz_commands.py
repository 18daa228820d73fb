"""Hostile arguments to the management commands: a bad argument is a CommandError that names the
option at fault, with nothing written and no traceback on the console."""
import io
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.items.models import Item
from labeling.projects.models import Project


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")  # one encoder export for the module


@pytest.fixture
def artifacts(settings, tmp_path, artifact_dir):
    settings.LONGTAIL_ARTIFACT_DIR = artifact_dir
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.mark.parametrize("slug", ["bad slug", ""])
def test_setup_demo_refuses_a_slug_no_url_can_reach(db, artifacts, slug):
    """Pages and API routes take ``<slug:slug>``: a project named "bad slug" or "" is listed on every
    member's home page with links that answer 404 (``/p/bad slug/``, ``/p//``)."""
    with pytest.raises(CommandError, match="--slug"):
        call_command("setup_demo", "--items", "3", "--slug", slug, "--password", "pw-Longtail-123")
    assert not Project.objects.filter(slug=slug).exists()
    assert Item.objects.count() == 0


def test_setup_demo_refuses_a_reserved_slug(db, artifacts):
    """The new-project page and the admin refuse the shared artifact folders' names as slugs
    (labeling.projects.reserved); setup_demo created the project "encoders" all the same."""
    with pytest.raises(CommandError, match="--slug"):
        call_command("setup_demo", "--items", "3", "--slug", "encoders", "--password", "pw-Longtail-123")
    assert not Project.objects.filter(slug="encoders").exists()


@pytest.mark.parametrize("where", ["folder", "missing_folder"])
def test_import_items_unwritable_rejects_path_is_a_clear_refusal(db, project_factory, tmp_path, caplog, where):
    """``--skip-invalid --rejects`` naming a folder, or a file in a folder that does not exist: the
    command printed a traceback (IsADirectoryError / FileNotFoundError on "<rejects>.partial") and
    "nothing imported" without saying that --rejects was at fault."""
    project = project_factory("alpha")
    data = tmp_path / "rows.csv"
    data.write_text("text,label\nfine row,billing\nbad row,NoSuchLabel\n", encoding="utf-8")
    rejects = tmp_path / "out" if where == "folder" else tmp_path / "absent" / "out.csv"
    if where == "folder":
        rejects.mkdir()
    caplog.set_level(logging.INFO)
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_items", project.slug, str(data), "--skip-invalid", "--rejects", str(rejects),
                     "--no-progress", stderr=err)
    said = f"{err.getvalue()}\n{refused.value}"
    # The option at fault, not an internal "<path>.partial".
    assert "--rejects" in said or "rejects file" in said.lower(), said
    tracebacks = [record.getMessage() for record in caplog.records if record.exc_info]
    assert tracebacks == []
