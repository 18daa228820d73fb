"""A served final model after a backup is restored under another LONGTAIL_ARTIFACT_DIR
(docs/operations.md, "Backups"; its encoder restored at <new root>/<project>/final-v<N>/encoder,
where the app builds it): the predict API answers with the same probabilities, the model export
carries the encoder, and items imported afterwards are embedded with it when a wave is planned.
Before, all three failed on the absolute path of the old root (500, 409, 409).

A version stored before paths were relative (the old root's absolute path in its config) finds
its encoder the same way; one whose folder was not restored is refused naming where the app looks.
A real, tiny fine-tune (tests/test_loop_helpers.py)."""
import io
import re
import shutil
import zipfile

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests import test_loop_helpers as helpers
from tests.test_restore_paths_head import predicted, restore_under_new_root

eager_celery = helpers.eager_celery
tiny_finetune = helpers.tiny_finetune
PROBES = ["billing maple request restored", "login quartz request restored", "fraud raven request restored"]


def forget_probe_vectors(version) -> None:
    """The probes' fine-tuned vectors dropped from the embeddings table: predicting them again needs
    the encoder folder itself."""
    from labeling.modeling.embedding_store import clear_memos
    from labeling.modeling.final import version_encoder_id
    from labeling.modeling.models import Embedding
    from learner.text import text_hash

    Embedding.objects.filter(model_id=version_encoder_id(version), text_hash__in=[text_hash(t) for t in PROBES]).delete()
    clear_memos()


def exported_names(api, slug) -> list[str]:
    response = api.get(f"/api/projects/{slug}/export/model/")
    assert response.status_code == 200, response.content[:1000]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return zipfile.ZipFile(io.BytesIO(content)).namelist()


def import_items(project, rng, words) -> list[str]:
    """Items imported after the restore, with frozen vectors only (what the import's embedding run
    makes); returns their text hashes."""
    from labeling.items.models import Item
    from learner.text import text_hash

    source = project.sources.first()
    texts = [f"{('billing', 'login', 'fraud')[k % 3]} {word} request imported" for k, word in enumerate(words)]
    Item.objects.bulk_create([Item(project=project, source=source, text=t, text_hash=text_hash(t)) for t in texts])
    hashes = [text_hash(t) for t in texts]
    helpers.noise_frozen_vectors(hashes, rng)
    return hashes


def test_a_final_model_serves_exports_and_plans_after_a_restore_under_another_root(
        db, project_factory, eager_celery, tiny_finetune, settings, tmp_path, make_user,
        django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.items.scoring import score_new_items
    from labeling.modeling.final import version_encoder_id
    from labeling.modeling.models import Embedding, ModelVersion

    rng = np.random.default_rng(5)
    project, _ = helpers.build_project(project_factory, slug="restored", n_items=120, n_labeled=48)
    version = helpers.serve_final_model(project, django_capture_on_commit_callbacks, rng)
    api = APIClient()
    api.force_authenticate(make_user("root", superuser=True))
    before = predicted(api, project.slug, PROBES)
    forget_probe_vectors(version)
    old_root = settings.LONGTAIL_ARTIFACT_DIR
    new_root = tmp_path / "restored-stack" / "artifacts"
    restore_under_new_root(settings, old_root, new_root)
    encoder = new_root / "restored" / f"final-v{version.number}" / "encoder"
    assert encoder.is_dir() and not old_root.exists()

    # predict: the same probabilities, from the restored encoder folder
    assert np.allclose(predicted(api, project.slug, PROBES), before, atol=1e-3)
    # model export: the head with its encoder
    names = exported_names(api, project.slug)
    assert {"head.bin", "encoder/config.json", "encoder/modules.json"} <= set(names)
    # items imported now are embedded with the restored encoder when the next wave is planned
    hashes = import_items(project, rng, helpers.WORDS[:6])
    response = api.post(f"/api/projects/{project.slug}/waves/plan/")
    assert response.status_code == 201, response.content[:1000]
    assert Embedding.objects.filter(model_id=version_encoder_id(version), text_hash__in=hashes).count() == len(hashes)

    # a version stored before: the old root's absolute path, found where the app builds it now
    config = {**version.config, "encoder_dir": str(old_root / "restored" / f"final-v{version.number}" / "encoder")}
    ModelVersion.objects.filter(pk=version.pk).update(config=config)
    forget_probe_vectors(version)
    restore_under_new_root(settings, new_root, tmp_path / "again" / "artifacts")
    encoder = tmp_path / "again" / "artifacts" / "restored" / f"final-v{version.number}" / "encoder"
    assert np.allclose(predicted(api, project.slug, PROBES), before, atol=1e-3)
    assert "encoder/config.json" in exported_names(api, project.slug)

    # its folder not restored: the refusals name where the app looks now
    shutil.move(str(encoder), str(tmp_path / "set-aside"))
    refused = api.get(f"/api/projects/{project.slug}/export/model/")
    assert refused.status_code == 409 and f"encoder folder {encoder} (recorded at training as " in refused.json()["detail"]
    later = import_items(project, rng, helpers.WORDS[6:8])
    with pytest.raises(ValueError, match=f"encoder folder {re.escape(str(encoder))} is not on this host"):
        score_new_items(project, Item.objects.filter(text_hash__in=later).values_list("pk", flat=True))
