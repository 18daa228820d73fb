"""The migration that makes model versions' stored paths relative to LONGTAIL_ARTIFACT_DIR: absolute
paths written before (a final model's ``config["encoder_dir"]``, a large head's ``artifact_path``)
become relative where they are under the artifact folder, or name the app's layout of a file that
a restore under another root moved; a path elsewhere that is on this host stays as it is. Readers
then find the files under the current root; a row the migration left finds its file where the app
builds it. Going back writes absolute paths under the current root, the form the previous release
reads."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.migration_steps import migration_step

BEFORE, AFTER = "0005_modelversion_label_ids", "0006_relative_artifact_paths"


def make_encoder_folder(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "modules.json").write_text("[]")
    (path / "model.safetensors").write_bytes(b"weights")
    return path


@pytest.mark.django_db(transaction=True)
def test_absolute_paths_become_relative_and_readers_find_the_files(settings, tmp_path):
    from labeling.export.bundle import ExportRefused, encoder_folder, model_artifact_bytes
    from labeling.modeling.artifact_paths import encoder_folder_path, head_file_path

    old_root, root = tmp_path / "old" / "artifacts", tmp_path / "new" / "artifacts"
    settings.LONGTAIL_ARTIFACT_DIR = root
    # restored under the new root, where the app builds them
    make_encoder_folder(root / "mig" / "final-v1" / "encoder")
    (root / "mig").mkdir(exist_ok=True)
    (root / "mig" / "model-v2.bin").write_bytes(b"head v2")
    make_encoder_folder(root / "mig" / "final-v3" / "encoder")
    kept = make_encoder_folder(tmp_path / "own-storage" / "final-v4" / "encoder")
    with migration_step("learner", BEFORE, AFTER) as step:
        Project = step.old_apps.get_model("projects", "Project")
        ModelVersion = step.old_apps.get_model("learner", "ModelVersion")
        project = Project.objects.create(slug="mig", name="Mig")

        def version(number, *, encoder_dir=None, artifact_path=""):
            config = {"kind": "final", "encoder_dir": str(encoder_dir)} if encoder_dir else {"kind": "retrain"}
            return ModelVersion.objects.create(project=project, number=number, state="retired", config=config,
                                               artifact_path=str(artifact_path) if artifact_path else "").pk

        pks = {
            "old root": version(1, encoder_dir=old_root / "mig" / "final-v1" / "encoder"),
            "old root head": version(2, artifact_path=old_root / "mig" / "model-v2.bin"),
            "current root": version(3, encoder_dir=root / "mig" / "final-v3" / "encoder"),
            "elsewhere, on this host": version(4, encoder_dir=kept),
            "elsewhere, gone": version(5, encoder_dir=tmp_path / "gone" / "v5-encoder"),
            "frozen": version(6),
        }
        apps = step.migrate()
        ModelVersion = apps.get_model("learner", "ModelVersion")
        stored = {key: ModelVersion.objects.values_list("config", "artifact_path").get(pk=pk)
                  for key, pk in pks.items()}
        assert stored["old root"][0]["encoder_dir"] == "mig/final-v1/encoder"
        assert stored["old root head"][1] == "mig/model-v2.bin"
        assert stored["current root"][0]["encoder_dir"] == "mig/final-v3/encoder"
        assert stored["elsewhere, on this host"][0]["encoder_dir"] == str(kept)
        assert stored["elsewhere, gone"][0]["encoder_dir"] == str(tmp_path / "gone" / "v5-encoder")
        assert stored["frozen"] == ({"kind": "retrain"}, "")

        # the readers, after the migration
        # (the model as it is right after the migration: later migrations add columns the current one reads)
        versions = {key: ModelVersion.objects.select_related("project").get(pk=pk) for key, pk in pks.items()}
        assert encoder_folder(versions["old root"]) == root / "mig" / "final-v1" / "encoder"
        assert model_artifact_bytes(versions["old root head"]) == b"head v2"
        assert encoder_folder_path(versions["elsewhere, on this host"]) == kept
        assert encoder_folder_path(versions["frozen"]) is None and head_file_path(versions["frozen"]) is None
        # a stored absolute path that is not on this host: looked for where the app builds it, and named
        with pytest.raises(ExportRefused) as refused:
            encoder_folder(versions["elsewhere, gone"])
        assert f"folder {root / 'mig' / 'final-v5' / 'encoder'} (recorded at training as {tmp_path}" in str(refused.value)

        # going back: absolute paths under the current root, as the previous release reads them
        back = MigrationExecutor(connection)
        back.migrate([("learner", BEFORE)])
        ModelVersion = back.loader.project_state([("learner", BEFORE)]).apps.get_model("learner", "ModelVersion")
        assert ModelVersion.objects.get(pk=pks["old root"]).config["encoder_dir"] == str(
            root / "mig" / "final-v1" / "encoder")
        assert ModelVersion.objects.get(pk=pks["old root head"]).artifact_path == str(root / "mig" / "model-v2.bin")
        assert ModelVersion.objects.get(pk=pks["elsewhere, on this host"]).config["encoder_dir"] == str(kept)
