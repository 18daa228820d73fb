"""A project deleted and made again under the same slug ("delete and start over"): its final model
v1 saves its fine-tuned encoder at the same place on disk as the deleted project's final model v1
did (LONGTAIL_ARTIFACT_DIR/<slug>/final-v1/encoder). A process that served the deleted project's
final model must not answer the new project with the deleted project's encoder. Real fine-tuning
(a few CPU steps), PostgreSQL."""
import numpy as np
import pytest

from tests import test_loop_helpers as helpers

tiny_finetune = helpers.tiny_finetune

PROBE = ["a customer asks why the invoice shows two charges this month"]


@pytest.mark.django_db
def test_a_new_project_under_a_deleted_projects_slug_gets_its_own_fine_tuned_encoder(project_factory, tiny_finetune,
                                                                                      django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.modeling.artifact_paths import encoder_folder_path
    from labeling.modeling.final import VersionEncoder, embed_pool_for, train_final_version, version_encoder_id
    from labeling.modeling.models import Embedding
    from labeling.projects.deletion import delete_project
    from learner.finetune.contrastive import encode, load_encoder

    first, _ = helpers.build_project(project_factory, slug="support", n_items=40, n_labeled=16, seed=1)
    old = train_final_version(first)
    old_vector = VersionEncoder(old).encode(PROBE)  # served once in this process (a predict, a scoring chunk)
    old_folder = encoder_folder_path(old)
    with django_capture_on_commit_callbacks(execute=True):  # the folders go once the deletion commits
        delete_project(first)
    assert not old_folder.exists()

    again, _ = helpers.build_project(project_factory, slug="support", n_items=40, n_labeled=16, seed=7,
                                     labels=("refund", "outage", "spam"))
    new = train_final_version(again)
    assert new.number == old.number and encoder_folder_path(new) == old_folder  # the same place on disk
    own = encode(load_encoder(str(encoder_folder_path(new))), PROBE)  # the new project's own encoder
    assert not np.allclose(own, old_vector, atol=1e-6)  # two different fine-tunes

    # What the pipeline does next (train_and_serve_final): the pool embedded with the version's encoder,
    # stored under its encoder id, then scored from those vectors.
    embed_pool_for(new)
    item = Item.objects.filter(project=again).order_by("pk").first()
    stored = np.frombuffer(bytes(Embedding.objects.get(model_id=version_encoder_id(new),
                                                       text_hash=item.text_hash).vector), dtype=np.float32)
    expected = encode(load_encoder(str(encoder_folder_path(new))), [item.text])[0]
    served = VersionEncoder(new).encode(PROBE)  # a predict of the new project
    assert np.allclose(stored, expected, atol=1e-5) and np.allclose(served, own, atol=1e-5), (
        "the new project's final model encodes with the deleted project's fine-tuned encoder: its stored pool "
        f"vector differs from its own encoder's by {float(np.abs(stored - expected).max()):.4f}; a predict "
        f"differs from its own encoder by {float(np.abs(served - own).max()):.4f} and from the deleted "
        f"project's by {float(np.abs(served - old_vector).max()):.4f}")
