"""Round 40: an upload's import finds its file under this host's MEDIA_ROOT whatever path the
message names, and the export page's duplicate preview leaves out the copies of a disputed item,
as the export itself does.

The imports run the task's own body in this process against PostgreSQL, with this host's
MEDIA_ROOT; the end-to-end move (gunicorn on one host, a worker on another) is
tests/test_round40_backup_restore.py."""

import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from labeling.items.models import ImportBatch, Item
from labeling.items.services import rejects_path_for, save_upload
from labeling.loop.tasks import import_file
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db

UPLOAD = b"text,source\nmy card was charged twice,email\nthe app will not let me log in,chat\n,email\n"


@pytest.fixture
def upload(project_factory, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "new-host" / "media"
    project = project_factory("moving")
    lead = make_user("lena")
    batch, path = save_upload(project, SimpleUploadedFile("tickets.csv", UPLOAD, content_type="text/csv"), lead)
    return project, batch, path


def _imported(project, batch) -> ImportBatch:
    batch.refresh_from_db()
    assert batch.state == ImportBatch.DONE, batch.errors
    assert sorted(Item.objects.filter(project=project).values_list("text", flat=True)) == [
        "my card was charged twice",
        "the app will not let me log in",
    ]
    return batch


def test_a_message_naming_paths_relative_to_media_root_is_read_under_this_hosts_media_root(upload, settings):
    project, batch, path = upload
    media = Path(settings.MEDIA_ROOT)
    rejects = rejects_path_for(batch)
    import_file(
        batch.id,
        path.relative_to(media).as_posix(),
        skip_invalid=True,
        rejects_path=rejects.relative_to(media).as_posix(),
    )
    assert _imported(project, batch).rows_rejected == 1
    assert rejects.is_file(), "the rejects file belongs beside the upload, where the import page offers it"
    assert not path.exists()


def test_an_older_message_naming_the_old_hosts_absolute_paths_falls_back_to_media_root(upload, tmp_path):
    """A message queued by the previous release before the move names the old host's absolute
    paths, which this host does not have: the upload is read from its place under MEDIA_ROOT, and
    the rejects are written where the page looks for them, not into a folder of the old host."""
    project, batch, path = upload
    old = tmp_path / "old-host" / "media" / "imports" / "moving"
    import_file(batch.id, str(old / path.name), skip_invalid=True, rejects_path=str(old / f"{batch.id}-rejects.csv"))
    assert _imported(project, batch).rows_rejected == 1
    assert rejects_path_for(batch).is_file()
    assert not path.exists(), "the upload is removed once imported"
    assert not (tmp_path / "old-host").exists()


def test_an_older_message_whose_absolute_path_exists_is_read_there(upload):
    """The same host, no move: the absolute path of an older message is used as it is."""
    project, batch, path = upload
    import_file(batch.id, str(path), skip_invalid=True, rejects_path=str(rejects_path_for(batch)))
    assert _imported(project, batch).rows_rejected == 1
    assert rejects_path_for(batch).is_file()
    assert not path.exists()


def test_the_export_pages_duplicate_preview_leaves_out_the_copy_of_a_disputed_item(project_factory, make_user):
    """ann and bob disagree on a ticket and no lead has decided; its unlabeled copy is not exported
    with include_duplicates, and the page's preview must not promise it."""
    project = project_factory("twins")
    project.overlap, project.batch_size = 2, 10
    project.save()
    people = {name: add_member(make_user, project, name) for name in ("ann", "bob")}
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    text = "I was charged twice and now I cannot log in"
    _wave, (original,) = make_open_wave(project, 1, double={0}, texts=[text])
    Item.objects.create(project=project, source=original.source, text=text + " ", text_hash=original.text_hash)
    labels = {label.name: label.pk for label in project.labels.all()}
    for name, label in (("ann", "billing"), ("bob", "login")):
        client = api_as(people[name])
        (row,) = client.post("/api/projects/twins/batches/", {}, format="json").json()["items"]
        stored = client.post(
            "/api/projects/twins/annotations/",
            {"client_id": str(uuid.uuid4()), "assignment": row["assignment"], "label": labels[label]},
            format="json",
        )
        assert stored.status_code == 201, stored.content
    page = Client()
    page.force_login(lead)
    html = " ".join(page.get("/p/twins/export/").content.decode().split())
    assert "This adds 0 unlabeled exact duplicates of labeled items; 1 more is left out" in html, html[:3000]
