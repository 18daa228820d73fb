"""setup_demo's --slug and import_items' rejects file: refused up front naming the option, or, when
the rejects file fails while it is written, a failed import naming the rejects file (no traceback)."""
import io
import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.items.demo_data import create_demo_project
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Project


@pytest.fixture
def artifacts(settings, tmp_path):
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.mark.parametrize("slug, says", [
    ("x" * 51, "at most 50"),  # the column's length: PostgreSQL would refuse the insert with a traceback
    ("café", "valid"),  # <slug:slug> routes take ASCII only
    ("emb-cache", "reserved"),
])
def test_setup_demo_refuses_before_writing_anything(db, artifacts, slug, says):
    with pytest.raises(CommandError, match="--slug") as refused:
        call_command("setup_demo", "--items", "3", "--slug", slug, "--password", "pw-Longtail-123")
    assert says in str(refused.value)
    # Nothing written: not the demo users either.
    assert not get_user_model().objects.exists()
    assert not Project.objects.exists()


def test_create_demo_project_refuses_a_bad_slug_itself(db, artifacts):
    """The service is callable on its own (tests, a shell): it refuses as the command does."""
    with pytest.raises(ValueError, match="slug"):
        create_demo_project(slug="two words", n_items=3)
    assert not Project.objects.exists()


def test_setup_demo_leaves_an_existing_project_with_a_reserved_slug_alone(db, artifacts, project_factory):
    """Only new slugs are refused: a project that took a reserved slug before the rule keeps working
    (labeling.projects.reserved), and setup_demo on it stays idempotent."""
    project = project_factory("encoders")
    Item.objects.create(project=project, text="an item of its own", text_hash="h1")
    project.waves.create(number=1, size=1)
    out = io.StringIO()
    call_command("setup_demo", "--items", "3", "--slug", "encoders", "--password", "pw-Longtail-123", stdout=out)
    assert "Project 'encoders' already exists" in out.getvalue()


def test_rejects_file_that_cannot_be_written_fails_the_import_naming_it(db, project_factory, tmp_path, caplog):
    """The importer on its own (the upload task, a caller that skipped the command's check): the
    rejects file's OSError is a failed import that names the rejects file, not the internal
    "<rejects>.partial", with no traceback in the log and nothing imported."""
    project = project_factory("alpha")
    data = tmp_path / "rows.csv"
    data.write_text("text,label\nfine row,billing\nbad row,NoSuchLabel\n", encoding="utf-8")
    rejects = tmp_path / "folder"
    rejects.mkdir()
    caplog.set_level(logging.INFO)
    result = run_import(project, data, skip_invalid=True, rejects_path=rejects)
    assert not result.ok
    message = result.errors[0].message
    assert f"the rejects file {rejects} could not be written" in message
    assert ".partial" not in message
    assert result.rejects_path is None
    assert ImportBatch.objects.get(pk=result.batch.pk).state == ImportBatch.FAILED
    assert Item.objects.count() == 0
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert list(rejects.iterdir()) == []


def test_import_items_checks_the_default_rejects_file_too(db, project_factory, tmp_path):
    """Without --rejects the rejects go beside the file (FILE.rejects.csv); a folder of that name
    is refused before validating, saying --rejects sets another."""
    project = project_factory("alpha")
    data = tmp_path / "rows.csv"
    data.write_text("text,label\nfine row,billing\nbad row,NoSuchLabel\n", encoding="utf-8")
    (tmp_path / "rows.csv.rejects.csv").mkdir()
    with pytest.raises(CommandError, match=r"rows\.csv\.rejects\.csv \(set by --rejects\): is a folder"):
        call_command("import_items", project.slug, str(data), "--skip-invalid", "--no-progress")
    assert not ImportBatch.objects.exists()


def test_import_items_with_a_good_rejects_path_still_imports(db, project_factory, tmp_path):
    project = project_factory("alpha")
    data = tmp_path / "rows.csv"
    data.write_text("text,label\nfine row,billing\nbad row,NoSuchLabel\n", encoding="utf-8")
    rejects = tmp_path / "bad.csv"
    out = io.StringIO()
    call_command("import_items", project.slug, str(data), "--skip-invalid", "--rejects", str(rejects),
                 "--no-progress", stdout=out, stderr=io.StringIO())
    assert Item.objects.filter(project=project).count() == 1
    assert "NoSuchLabel" in rejects.read_text(encoding="utf-8")
