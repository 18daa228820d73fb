"""labeling.projects.deletion.delete_project: every row of a project goes (whatever table holds
it), its folders go after the commit, another project's rows and the embeddings it shares stay.
Real training (eager Celery, pre-filled embeddings), real import, real leases and answers."""
import pytest
from django.conf import settings

from tests import test_loop_helpers as loop
from tests.test_project_deletion_helpers import FINE_LABELS, full_project, owned_rows, remaining

eager_celery = loop.eager_celery

EXPECTED_TABLES = {"Project", "Label", "Source", "Rule", "Membership", "Item", "ItemLsh", "ImportBatch", "Annotation",
                   "ReviewTask", "Assignment", "Wave", "WaveItem", "ModelVersion", "ItemScore", "TaskRun"}


@pytest.fixture
def folders(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    return tmp_path


@pytest.fixture
def two_projects(folders, project_factory, make_user, eager_celery, django_capture_on_commit_callbacks, monkeypatch):
    """"gone", to delete, and "kept": built from the same seed, so its 80 items share their texts
    (and cached vectors) with the first 80 of gone's 120; both have labels "billing: About billing"."""
    gone = full_project(project_factory, make_user, django_capture_on_commit_callbacks, monkeypatch, slug="gone")
    kept, _ = loop.build_project(project_factory, slug="kept", n_items=80, n_labeled=20)
    kept_file = folders / "artifacts" / "kept" / "model-v1.bin"
    kept_file.parent.mkdir(parents=True)
    kept_file.write_bytes(b"kept's model")
    (folders / "media" / "imports" / "kept").mkdir(parents=True)
    return gone, kept


def embedding_keys():
    from labeling.modeling.models import Embedding

    return set(Embedding.objects.values_list("model_id", "text_hash"))


def test_nothing_of_the_project_remains_and_the_other_is_untouched(two_projects, folders,
                                                                   django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.projects.deletion import delete_project
    from labeling.projects.models import Label
    from learner.text import exact_text_hash

    gone, kept = two_projects
    owned, kept_before = owned_rows(gone.pk), owned_rows(kept.pk)
    assert {model.__name__ for model, pks in owned.items() if pks} >= EXPECTED_TABLES  # the fixture has them all
    assert Label.objects.filter(project=gone, parent__isnull=False).count() == 2
    gone_hashes = set(Item.objects.filter(project=gone).values_list("text_hash", flat=True))
    kept_hashes = set(Item.objects.filter(project=kept).values_list("text_hash", flat=True))
    # label texts' vectors are stored under their exact key (labeling.modeling.embedding.embed_query_texts)
    shared_labels = {exact_text_hash("billing: About billing"), exact_text_hash("login: About login")}
    own_labels = {exact_text_hash(f"{name}: {description}") for name, description in FINE_LABELS.items()}
    model_id = settings.LONGTAIL_MODEL_ID
    before = embedding_keys()
    assert {(model_id, h) for h in gone_hashes | own_labels | shared_labels} <= before
    assert len(kept_hashes) == 80 and kept_hashes < gone_hashes
    assert (folders / "artifacts" / "gone" / "model-v1.bin").is_file()
    assert any((folders / "media" / "imports" / "gone").glob("*-rejects.csv"))

    with django_capture_on_commit_callbacks(execute=True):
        report = delete_project(gone)

    assert remaining(owned) == {}
    assert remaining(owned_rows(gone.pk)) == {}  # nothing refers to the deleted rows either
    assert owned_rows(kept.pk) == kept_before
    after = embedding_keys()
    assert {(model_id, h) for h in gone_hashes - kept_hashes} | {(model_id, h) for h in own_labels} == before - after
    assert {(model_id, h) for h in kept_hashes | shared_labels} <= after
    assert not (folders / "artifacts" / "gone").exists() and not (folders / "media" / "imports" / "gone").exists()
    assert (folders / "artifacts" / "kept" / "model-v1.bin").read_bytes() == b"kept's model"
    assert (folders / "media" / "imports" / "kept").is_dir()
    assert report.counts["items"] == 122 and report.counts["fine labels"] == 2
    assert report.counts["embeddings used by no other project"] == len(before - after)
    assert set(report.removed) == {folders / "artifacts" / "gone", folders / "media" / "imports" / "gone"}


def test_rolled_back_deletion_keeps_rows_and_files(folders, project_factory, make_user, settings,
                                                   django_capture_on_commit_callbacks):
    """The files go only once the rows are gone for good: a deletion inside a transaction that
    rolls back removes nothing."""
    from django.db import transaction

    from labeling.projects.deletion import delete_project
    from labeling.projects.models import Project

    project = project_factory("rolled")
    model_file = folders / "artifacts" / "rolled" / "model-v1.bin"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"model")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            delete_project(project)
            raise RuntimeError("the caller's transaction fails later")
    assert callbacks == [] and model_file.is_file() and Project.objects.filter(pk=project.pk).exists()


def test_fine_tuned_encoder_rows_and_folder_go(folders, project_factory, django_capture_on_commit_callbacks):
    """A final model's encoder caches vectors under its own model id (modeling.final): every such row is
    the project's, whatever the text; its folder, recorded on the version, goes too."""
    from labeling.modeling.embedding import model_id
    from labeling.modeling.models import Embedding, ModelVersion
    from labeling.projects.deletion import delete_project

    project = project_factory("tuned")
    encoder_id = f"{model_id()}+ft-tuned-v1"
    outside = folders / "moved-artifacts" / "tuned" / "final-v1" / "encoder"  # LONGTAIL_ARTIFACT_DIR changed since
    outside.mkdir(parents=True)
    (outside / "model.safetensors").write_bytes(b"weights")
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                config={"kind": "final", "encoder_model_id": encoder_id, "encoder_dir": str(outside)})
    # Stored relative to LONGTAIL_ARTIFACT_DIR, and a path outside the project's layout: neither is
    # looked for in the working directory, nor is the stray one removed.
    stray = folders / "shared-file.bin"
    stray.write_bytes(b"not the project's")
    ModelVersion.objects.create(project=project, number=2, state=ModelVersion.RETIRED,
                                artifact_path="tuned/model-v2.bin", config={"encoder_dir": str(stray)})
    Embedding.objects.bulk_create([Embedding(model_id=encoder_id, text_hash="a" * 64, vector=b"1234"),
                                   Embedding(model_id=model_id(), text_hash="a" * 64, vector=b"1234")])
    with django_capture_on_commit_callbacks(execute=True):
        report = delete_project(project)
    assert report.folders == [folders / "artifacts" / "tuned", folders / "media" / "imports" / "tuned", outside]
    assert stray.is_file()
    # The frozen encoder's row is a text no item or label of the project has: not the project's to delete.
    assert set(Embedding.objects.values_list("model_id", flat=True)) == {model_id()}
    assert not outside.exists() and (folders / "moved-artifacts" / "tuned").is_dir()


def test_running_work_refuses_unless_forced(folders, project_factory, django_capture_on_commit_callbacks):
    from labeling.items.models import ImportBatch
    from labeling.loop.triggers import request_retrain
    from labeling.projects.deletion import ProjectBusy, delete_project
    from labeling.projects.models import Project

    project = project_factory("busy")
    run = request_retrain(project, reason="manual")  # its message is never sent: it stays pending
    batch = ImportBatch.objects.create(project=project, filename="late.csv", state=ImportBatch.RUNNING)
    with pytest.raises(ProjectBusy) as refused:
        delete_project(project)
    message = str(refused.value)
    assert f"task run {run.pk} (retrain, " in message and f"import {batch.pk} of “late.csv” (running)" in message
    assert Project.objects.filter(pk=project.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        report = delete_project(project, force=True)
    assert not Project.objects.filter(pk=project.pk).exists()
    assert report.counts["task runs"] == 1 and report.counts["imports"] == 1 and len(report.forced_past) == 2


def test_a_slug_that_names_no_folder_removes_none(db, folders, django_capture_on_commit_callbacks):
    """A slug made outside the forms ("" here) would make LONGTAIL_ARTIFACT_DIR/<slug>/ the whole
    artifact folder: no folder is removed then."""
    from labeling.projects.deletion import delete_project
    from labeling.projects.models import Project

    project = Project.objects.create(slug="", name="Nameless")
    other = folders / "artifacts" / "someone" / "model-v1.bin"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"model")
    with django_capture_on_commit_callbacks(execute=True):
        report = delete_project(project)
    assert report.folders == [] and other.is_file() and not Project.objects.filter(pk=project.pk).exists()


def test_a_label_text_another_project_shares_keeps_its_vector(folders, project_factory,
                                                              django_capture_on_commit_callbacks):
    """Label vectors are cached by the text "name: description": one that another project's label also
    has stays, even where a third project has a label of the same name with other words."""
    from labeling.modeling.models import Embedding
    from labeling.projects.deletion import delete_project
    from labeling.projects.models import Label
    from learner.text import text_hash

    gone = project_factory("gone", labels=("billing", "unique"))
    project_factory("same", labels=("billing",))  # "billing: About billing", as gone has
    third = project_factory("third", labels=())
    Label.objects.create(project=third, name="billing", description="Other words")
    shared, own = text_hash("billing: About billing"), text_hash("unique: About unique")
    Embedding.objects.bulk_create([Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=h, vector=b"1234")
                                   for h in (shared, own)])
    with django_capture_on_commit_callbacks(execute=True):
        delete_project(gone)
    assert set(Embedding.objects.values_list("text_hash", flat=True)) == {shared}
